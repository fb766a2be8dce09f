import CRIOFuzz
import Foundation
import Testing

@testable import CRIONetwork

/// Hostile CNI plugin output and configuration files: a plugin's result is
/// refused with `CNIError` or handed on (as `prevResult`, and for the pod's
/// addresses) without a trap; a configuration file is refused with
/// `CNINetwork.LoadError` or becomes plugin configurations that are JSON objects.
@Suite struct CNIFuzzTests {
  static let bridgeResult = """
    {"cniVersion":"1.0.0","interfaces":[{"name":"cni0","mac":"0a:58:0a:58:00:01"},
     {"name":"eth0","mac":"0a:58:0a:58:00:05","sandbox":"/var/run/netns/x"}],
     "ips":[{"interface":1,"address":"10.88.0.5/16","gateway":"10.88.0.1"},
      {"interface":1,"address":"fd00::5/64"}],
     "routes":[{"dst":"0.0.0.0/0"}],"dns":{"nameservers":["10.88.0.1"]}}
    """
  static let oldResult = """
    {"cniVersion":"0.3.1","ip4":{"ip":"10.1.0.2/24"},"ips":[{"version":"4","address":"10.1.0.2/24"}]}
    """

  static let attachment = CNIAttachment(
    containerID: "c", netns: "/var/run/netns/x", podName: "p", podNamespace: "n", podUID: "u",
    portMappings: [.init(hostPort: 8080, containerPort: 80, protocol: "tcp", hostIP: "")])
  static let portmap = Data(#"{"type":"portmap","capabilities":{"portMappings":true},"runtimeConfig":{"x":1}}"#.utf8)

  @Test func fuzzPluginResults() async throws {
    var handedOn = 0
    try await Fuzzer(
      target: "cni-result", seeds: [Self.bridgeResult, Self.oldResult, "{}", "[]"],
      dictionary: Mutator.jsonTokens + [Array("\"ips\":".utf8), Array("\"address\":".utf8), Array("\"/".utf8)]
    ).run { input in
      let result: Any
      do {
        result = try PodNetworks.result(Data(input), type: "bridge")
      } catch CNIError.invalidResult {
        return
      }
      handedOn += 1
      let ips = PodNetworks.ips(in: result)
      guard ips.allSatisfy({ !$0.contains("/") }) else { throw FuzzViolation("an address kept its prefix: \(ips)") }
      let next = try PodNetworks.configuration(Self.portmap, previous: result, attachment: Self.attachment)
      guard let object = try JSONSerialization.jsonObject(with: next) as? [String: Any], object["prevResult"] != nil else {
        throw FuzzViolation("the next plugin's configuration lost prevResult")
      }
    }
    #expect(handedOn > 0)
  }

  @Test func fuzzNetworkConfigurationFiles() async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crio-cni-fuzz-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let file = "\(dir)/10-fuzz.conflist"
    var loaded = 0
    try await Fuzzer(
      target: "cni-config", seeds: [
        #"{"cniVersion":"1.0.0","name":"crio","plugins":[{"type":"bridge","bridge":"cni0","ipam":{"type":"host-local","ranges":[[{"subnet":"10.85.0.0/16"}]]}},{"type":"portmap","capabilities":{"portMappings":true}}]}"#,
        #"{"cniVersion":"0.4.0","name":"single","type":"bridge"}"#,
      ],
      dictionary: Mutator.jsonTokens + [Array("\"type\":".utf8), Array("\"plugins\":".utf8), Array("\"name\":".utf8)]
    ).run { input in
      try Data(input).write(to: URL(fileURLWithPath: file))
      let network: CNINetwork
      do {
        network = try CNINetwork(file: file)
      } catch is CNINetwork.LoadError {
        return
      }
      loaded += 1
      for plugin in network.plugins {
        guard (try? JSONSerialization.jsonObject(with: plugin)) is [String: Any], !PodNetworks.type(of: plugin).isEmpty else {
          throw FuzzViolation("a plugin configuration that is not an object with a type")
        }
        _ = try PodNetworks.configuration(plugin, previous: nil, attachment: Self.attachment)
      }
      _ = CNIConfigDirectory.scan(dir)
    }
    #expect(loaded > 0)
  }
}
