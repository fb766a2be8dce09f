import CRIOSystem
import Foundation
import Glibc

/// Who a CNI operation is for.
public struct CNIAttachment: Sendable, Codable, Equatable {
  public var containerID: String
  public var netns: String
  public var ifName: String
  public var podName: String
  public var podNamespace: String
  public var podUID: String
  /// CRI port mappings, for plugins with the `portMappings` capability.
  public var portMappings: [PortMapping]

  public struct PortMapping: Sendable, Codable, Equatable {
    public var hostPort: Int
    public var containerPort: Int
    public var `protocol`: String
    public var hostIP: String

    public init(hostPort: Int, containerPort: Int, protocol: String, hostIP: String) {
      self.hostPort = hostPort
      self.containerPort = containerPort
      self.protocol = `protocol`
      self.hostIP = hostIP
    }
  }

  public init(
    containerID: String, netns: String, ifName: String = "eth0", podName: String, podNamespace: String,
    podUID: String, portMappings: [PortMapping] = []
  ) {
    self.containerID = containerID
    self.netns = netns
    self.ifName = ifName
    self.podName = podName
    self.podNamespace = podNamespace
    self.podUID = podUID
    self.portMappings = portMappings
  }

  var cniArgs: String {
    "IgnoreUnknown=1;K8S_POD_NAMESPACE=\(podNamespace);K8S_POD_NAME=\(podName);K8S_POD_INFRA_CONTAINER_ID=\(containerID);K8S_POD_UID=\(podUID)"
  }
}

/// Runs CNI plugin binaries as the CNI spec says: parameters in the
/// environment, the plugin's configuration on stdin, the result (or an error
/// object) on stdout.
public struct CNIPluginRunner: Sendable {
  public let pluginDirectories: [String]
  public let timeoutSeconds: Int

  public init(pluginDirectories: [String], timeoutSeconds: Int = 60) {
    self.pluginDirectories = pluginDirectories
    self.timeoutSeconds = timeoutSeconds
  }

  public func find(_ type: String) throws -> String {
    for dir in pluginDirectories {
      let path = dir.hasSuffix("/") ? dir + type : "\(dir)/\(type)"
      if ExecutableLookup.isExecutable(path) { return path }
    }
    throw CNIError.pluginNotFound(type: type, directories: pluginDirectories)
  }

  /// Runs one plugin; returns its stdout (the result for ADD).
  func run(command: String, type: String, config: Data, attachment: CNIAttachment) async throws -> Data {
    let binary = try find(type)
    let environment = [
      "CNI_COMMAND": command, "CNI_CONTAINERID": attachment.containerID, "CNI_NETNS": attachment.netns,
      "CNI_IFNAME": attachment.ifName, "CNI_ARGS": attachment.cniArgs,
      "CNI_PATH": pluginDirectories.joined(separator: ":"), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    ]
    let result: ProcessRunner.Result
    do {
      result = try await ProcessRunner.run(
        binary, [], environment: environment, input: config, timeout: Double(timeoutSeconds))
    } catch ProcessRunner.Failure.timedOut {
      throw CNIError.timedOut(type: type, command: command, seconds: timeoutSeconds)
    } catch {
      throw CNIError.pluginFailed(type: type, command: command, message: "\(error)")
    }
    guard result.exitCode == 0 else {
      throw CNIError.pluginFailed(
        type: type, command: command, message: Self.errorMessage(stdout: result.stdout, stderr: result.stderr))
    }
    return result.stdout
  }

  /// The plugin's error object (`{"code", "msg", "details"}`) and stderr, as one line.
  static func errorMessage(stdout: Data, stderr: Data) -> String {
    var parts: [String] = []
    if let object = try? JSONSerialization.jsonObject(with: stdout) as? [String: Any] {
      if let msg = object["msg"] as? String { parts.append(msg) }
      if let details = object["details"] as? String, !details.isEmpty { parts.append(details) }
      if let code = object["code"] { parts.append("(code \(code))") }
    } else if !stdout.isEmpty {
      parts.append(String(decoding: stdout, as: UTF8.self))
    }
    let errText = String(decoding: stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    if !errText.isEmpty { parts.append("stderr: \(errText)") }
    return parts.isEmpty ? "exited with an error and said nothing" : parts.joined(separator: " ")
      .replacingOccurrences(of: "\n", with: " ")
  }
}
