/// Why a CNI operation failed; messages carry the plugin's own words.
public enum CNIError: Error, Equatable, CustomStringConvertible {
  case noNetwork(directory: String)
  case pluginNotFound(type: String, directories: [String])
  case pluginFailed(type: String, command: String, message: String)
  case timedOut(type: String, command: String, seconds: Int)
  case invalidResult(type: String, detail: String)

  public var description: String {
    switch self {
    case .noNetwork(let directory): "no CNI network configuration found in \(directory)"
    case .pluginNotFound(let type, let directories):
      "CNI plugin \(type) not found in \(directories.joined(separator: ", "))"
    case .pluginFailed(let type, let command, let message): "CNI plugin \(type) \(command) failed: \(message)"
    case .timedOut(let type, let command, let seconds): "CNI plugin \(type) \(command) did not finish within \(seconds)s"
    case .invalidResult(let type, let detail): "CNI plugin \(type) returned an invalid result: \(detail)"
    }
  }
}
