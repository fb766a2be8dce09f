import Foundation

/// Renders a configuration as `crio.conf` TOML (what `crio config` prints,
/// and `crio --config` reads back unchanged) or as JSON (the `Status` RPC's
/// verbose info).
public enum ConfigRenderer {
  public static func toml(_ config: CRIOConfiguration) -> String {
    var out = "# crio configuration, as printed by `crio config`.\n"
    out += "# Table and key names are those of CRI-O's crio.conf(5).\n"
    for section in ConfigSchema.sections {
      out += "\n[\(section)]\n"
      for option in ConfigSchema.options where option.section == section {
        if !option.honoured { out += "# not honoured yet by this version of crio\n" }
        out += "\(option.key) = \(tomlValue(option.value(in: config)))\n"
      }
      if section == "crio.runtime" {
        for (name, handler) in config.runtime.runtimes.sorted(by: { $0.key < $1.key }) {
          out += "\n[crio.runtime.runtimes.\(tomlKey(name))]\n"
          out += "runtime_path = \(tomlString(handler.runtimePath))\n"
          out += "runtime_root = \(tomlString(handler.runtimeRoot))\n"
          out += "runtime_type = \(tomlString(handler.runtimeType))\n"
        }
      }
    }
    return out
  }

  /// The effective configuration as a JSON object, nested by table.
  public static func json(_ config: CRIOConfiguration) -> String {
    var tables: [String: [String: Any]] = [:]
    for option in ConfigSchema.options {
      tables[option.section, default: [:]][option.key] = jsonValue(option.value(in: config))
    }
    var runtimes: [String: Any] = [:]
    for (name, handler) in config.runtime.runtimes {
      runtimes[name] = [
        "runtime_path": handler.runtimePath, "runtime_root": handler.runtimeRoot,
        "runtime_type": handler.runtimeType,
      ]
    }
    tables["crio.runtime", default: [:]]["runtimes"] = runtimes
    tables["crio.image", default: [:]]["registries_conf"] = config.image.registriesConf
    tables["crio.image", default: [:]]["registries_conf_dir"] = config.image.registriesConfDir
    // Nest "crio.api" under "crio" -> "api".
    var crio = tables["crio"] ?? [:]
    for (section, values) in tables where section != "crio" {
      crio[String(section.dropFirst("crio.".count))] = values
    }
    let data = (try? JSONSerialization.data(withJSONObject: ["crio": crio], options: [.sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self)
  }

  static func tomlValue(_ value: ConfigValue) -> String {
    switch value {
    case .string(let s): return tomlString(s)
    case .integer(let i): return String(i)
    case .boolean(let b): return b ? "true" : "false"
    case .strings(let list):
      if list.isEmpty { return "[]" }
      return "[\n" + list.map { "  \(tomlString($0)),\n" }.joined() + "]"
    }
  }

  /// A TOML basic string with every character that needs it escaped.
  static func tomlString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7F {
          out += String(format: "\\u%04X", scalar.value)
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }

  /// A bare key when allowed, else a quoted one.
  static func tomlKey(_ key: String) -> String {
    let bare = !key.isEmpty && key.unicodeScalars.allSatisfy {
      ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
    }
    return bare ? key : tomlString(key)
  }

  private static func jsonValue(_ value: ConfigValue) -> Any {
    switch value {
    case .string(let s): s
    case .integer(let i): i
    case .boolean(let b): b
    case .strings(let a): a
    }
  }
}
