import CRIOConfig

/// The `NetworkReady` condition: true only when a usable CNI configuration
/// (the configured default network, if one is named) is in `network_dir`.
public struct NetworkHealth: Sendable {
  public struct Condition: Sendable, Equatable {
    public var ready: Bool
    public var reason: String
    public var message: String
  }

  private let networkDir: String
  private let defaultNetwork: String

  public init(config: CRIOConfiguration) {
    networkDir = config.network.networkDir
    defaultNetwork = config.network.cniDefaultNetwork
  }

  public func check() -> Condition {
    let dir = CNIConfigDirectory.scan(networkDir)
    if dir.defaultNetwork(preferred: defaultNetwork) != nil {
      return Condition(ready: true, reason: "", message: "")
    }
    var message: String
    if !defaultNetwork.isEmpty && !dir.networks.isEmpty {
      message = "Network plugin returns error: default CNI network \"\(defaultNetwork)\" not found in \(networkDir)"
    } else {
      message = "Network plugin returns error: No CNI configuration file in \(networkDir). Has your network provider started?"
    }
    if !dir.rejected.isEmpty {
      message += " (skipped: " + dir.rejected.map { "\($0.file): \($0.reason)" }.joined(separator: "; ") + ")"
    }
    return Condition(ready: false, reason: "NetworkPluginNotReady", message: message)
  }
}
