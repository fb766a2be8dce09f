import Foundation
import Testing

@testable import CRIONetwork

@Suite struct PodBandwidthTests {
  @Test(arguments: [
    ("1M", 1_000_000.0), ("10Mi", 10_485_760.0), ("1.5k", 1500.0), ("2G", 2e9), ("100000", 1e5), ("1e6", 1e6),
  ])
  func quantitiesAreKubernetesQuantities(_ text: String, _ value: Double) {
    #expect(PodBandwidth.quantity(text) == value)
  }

  @Test(arguments: ["", "lots", "M", "-1M", "1..5M", "1Q"])
  func nonQuantitiesAreRejected(_ text: String) {
    #expect(PodBandwidth.quantity(text) == nil)
  }

  @Test func annotationsGiveRatesWithinKubernetesBounds() throws {
    #expect(try PodBandwidth(annotations: [:]) == nil)
    #expect(try PodBandwidth(annotations: ["other": "1M"]) == nil)
    let both = try PodBandwidth(annotations: [PodBandwidth.ingressAnnotation: "1M", PodBandwidth.egressAnnotation: "2Mi"])
    #expect(both == PodBandwidth(ingressRate: 1_000_000, egressRate: 2_097_152))
    #expect(throws: PodBandwidth.InvalidQuantity.self) { try PodBandwidth(annotations: [PodBandwidth.ingressAnnotation: "999"]) }
    #expect(throws: PodBandwidth.InvalidQuantity.self) { try PodBandwidth(annotations: [PodBandwidth.egressAnnotation: "2P"]) }
    #expect(throws: PodBandwidth.InvalidQuantity.self) { try PodBandwidth(annotations: [PodBandwidth.egressAnnotation: "fast"]) }
  }
}

@Suite struct RuntimeConfigCapabilityTests {
  let attachment = CNIAttachment(
    containerID: "c", netns: "/n", podName: "p", podNamespace: "ns", podUID: "u",
    portMappings: [.init(hostPort: 8080, containerPort: 80, protocol: "tcp", hostIP: "")],
    bandwidth: PodBandwidth(ingressRate: 1_000_000), dns: .init(servers: ["10.0.0.10"], searches: ["svc"], options: ["ndots:5"]),
    podCIDRs: ["10.1.0.0/24", "fd00::/64"])

  func runtimeConfig(_ plugin: String) throws -> [String: Any]? {
    let data = try PodNetworks.configuration(Data(plugin.utf8), previous: nil, attachment: attachment)
    return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["runtimeConfig"] as? [String: Any]
  }

  @Test func onlyDeclaredCapabilitiesGetValues() throws {
    #expect(try runtimeConfig(#"{"type": "bridge"}"#) == nil)
    #expect(try runtimeConfig(#"{"type": "x", "capabilities": {"portMappings": false}}"#) == nil)
    let all = try #require(try runtimeConfig(
      #"{"type": "x", "capabilities": {"portMappings": true, "bandwidth": true, "dns": true, "ipRanges": true}}"#))
    #expect(Set(all.keys) == ["portMappings", "bandwidth", "dns", "ipRanges"])
    let bandwidth = try #require(all["bandwidth"] as? [String: Any])
    #expect(bandwidth["ingressRate"] as? Int == 1_000_000)
    #expect(bandwidth["ingressBurst"] as? Int == Int(UInt32.max))
    #expect(bandwidth["egressRate"] == nil)
    let dns = try #require(all["dns"] as? [String: [String]])
    #expect(dns == ["servers": ["10.0.0.10"], "searches": ["svc"], "options": ["ndots:5"]])
    let ranges = try #require(all["ipRanges"] as? [[[String: String]]])
    #expect(ranges == [[["subnet": "10.1.0.0/24"]], [["subnet": "fd00::/64"]]])
  }

  @Test func aConfiguredRuntimeConfigIsKeptAndMerged() throws {
    let merged = try #require(try runtimeConfig(#"{"type": "x", "capabilities": {"dns": true}, "runtimeConfig": {"mine": 1}}"#))
    #expect(merged["mine"] as? Int == 1)
    #expect(merged["dns"] != nil)
  }

  @Test func cachedAttachmentsFromBeforeTheCapabilitiesStillDecode() throws {
    let old = #"{"containerID": "c", "netns": "/n", "ifName": "eth0", "podName": "p", "podNamespace": "ns", "podUID": "u", "portMappings": []}"#
    let decoded = try JSONDecoder().decode(CNIAttachment.self, from: Data(old.utf8))
    #expect(decoded.bandwidth == nil && decoded.dns == nil && decoded.podCIDRs.isEmpty)
    let roundTrip = try JSONDecoder().decode(CNIAttachment.self, from: JSONEncoder().encode(attachment))
    #expect(roundTrip == attachment)
  }

  @Test(arguments: [("1.0.0", true), ("0.4.0", true), ("0.3.1", false), ("0.3.0", false), ("", false), ("1.1.0", true)])
  func checkNeedsCNI040(_ version: String, _ supported: Bool) {
    #expect(CNINetwork.supportsCheck(version) == supported)
  }
}
