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

  /// For plugins with the `bandwidth` capability (from the pod's
  /// `kubernetes.io/ingress-bandwidth` / `egress-bandwidth` annotations).
  public var bandwidth: PodBandwidth?
  /// For plugins with the `dns` capability (the pod's DNS config).
  public var dns: DNS?
  /// For plugins with the `ipRanges` capability: one range set per pod
  /// CIDR the kubelet gave `UpdateRuntimeConfig`.
  public var podCIDRs: [String]

  public struct DNS: Sendable, Codable, Equatable {
    public var servers: [String]
    public var searches: [String]
    public var options: [String]

    public init(servers: [String], searches: [String], options: [String]) {
      self.servers = servers
      self.searches = searches
      self.options = options
    }
  }

  public init(
    containerID: String, netns: String, ifName: String = "eth0", podName: String, podNamespace: String,
    podUID: String, portMappings: [PortMapping] = [], bandwidth: PodBandwidth? = nil, dns: DNS? = nil,
    podCIDRs: [String] = []
  ) {
    self.containerID = containerID
    self.netns = netns
    self.ifName = ifName
    self.podName = podName
    self.podNamespace = podNamespace
    self.podUID = podUID
    self.portMappings = portMappings
    self.bandwidth = bandwidth
    self.dns = dns
    self.podCIDRs = podCIDRs
  }

  // Records cached before these fields existed decode with none of them.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    containerID = try container.decode(String.self, forKey: .containerID)
    netns = try container.decode(String.self, forKey: .netns)
    ifName = try container.decode(String.self, forKey: .ifName)
    podName = try container.decode(String.self, forKey: .podName)
    podNamespace = try container.decode(String.self, forKey: .podNamespace)
    podUID = try container.decode(String.self, forKey: .podUID)
    portMappings = try container.decodeIfPresent([PortMapping].self, forKey: .portMappings) ?? []
    bandwidth = try container.decodeIfPresent(PodBandwidth.self, forKey: .bandwidth)
    dns = try container.decodeIfPresent(DNS.self, forKey: .dns)
    podCIDRs = try container.decodeIfPresent([String].self, forKey: .podCIDRs) ?? []
  }

  /// The `runtimeConfig` for a plugin that declares `capabilities`.
  func runtimeConfig(capabilities: [String: Any]) -> [String: Any] {
    var config: [String: Any] = [:]
    if capabilities["portMappings"] as? Bool == true, !portMappings.isEmpty {
      config["portMappings"] = portMappings.map {
        ["hostPort": $0.hostPort, "containerPort": $0.containerPort, "protocol": $0.protocol, "hostIP": $0.hostIP]
      }
    }
    if capabilities["bandwidth"] as? Bool == true, let bandwidth, bandwidth.ingressRate != nil || bandwidth.egressRate != nil {
      var limits: [String: Any] = [:]
      if let rate = bandwidth.ingressRate {
        limits["ingressRate"] = rate
        limits["ingressBurst"] = PodBandwidth.burst
      }
      if let rate = bandwidth.egressRate {
        limits["egressRate"] = rate
        limits["egressBurst"] = PodBandwidth.burst
      }
      config["bandwidth"] = limits
    }
    if capabilities["dns"] as? Bool == true, let dns {
      config["dns"] = ["servers": dns.servers, "searches": dns.searches, "options": dns.options]
    }
    if capabilities["ipRanges"] as? Bool == true, !podCIDRs.isEmpty {
      config["ipRanges"] = podCIDRs.map { [["subnet": $0]] }
    }
    return config
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
