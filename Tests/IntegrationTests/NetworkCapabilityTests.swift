import CRIAPI
import CRIClient
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import Testing

/// CNI `runtimeConfig` capabilities (ipRanges, bandwidth, portMappings), CHECK
/// after a restart, and portmap's rules after a crash, with the real plugins.
@Suite(.serialized) struct NetworkCapabilityTests {
  func updatePodCIDR(_ fixture: SandboxFixture, _ cidr: String) async throws {
    try await fixture.call {
      var request = Runtime_V1_UpdateRuntimeConfigRequest()
      request.runtimeConfig.networkConfig.podCidr = cidr
      _ = try await $0.runtime.updateRuntimeConfig(request, options: $0.options)
    }
  }

  @Test func podCIDRsFromUpdateRuntimeConfigBecomeHostLocalsRanges() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let network = TestBridgeNetwork(dir: dir)
    defer { network.removeBridge() }
    try network.conflist(ipRangesCapability: true).write(
      toFile: "\(dir.cniDir)/10-crio-it.conflist", atomically: true, encoding: .utf8)
    let fixture = try await SandboxFixture(reusing: dir)

    // Before the kubelet sent a pod CIDR, host-local has no range: the pod fails and leaves nothing.
    let early = await #expect(throws: RPCError.self) { try await fixture.run(podConfig("early")) }
    #expect(early?.message.contains("no IP ranges") == true, "\(String(describing: early))")
    #expect(fixture.mounts.isEmpty && network.allocatedIPs.isEmpty)
    // The bridge plugin made its bridge before host-local failed; it cannot give an address to that one.
    network.removeBridge()

    let invalid = await #expect(throws: RPCError.self) { try await updatePodCIDR(fixture, "10.1.2.3") }
    #expect(invalid?.code == .invalidArgument)
    try await updatePodCIDR(fixture, network.subnet)
    let id = try await fixture.run(podConfig("ranged"))
    let ip = try await fixture.status(id).status.network.ip
    #expect(ip.hasPrefix(String(network.subnet.dropLast(4))), "\(ip) in \(network.subnet)")
    try await fixture.stop(id)
    try await fixture.remove(id)
    #expect(network.allocatedIPs.isEmpty)
    try await fixture.stopDaemon()
  }

  @Test func bandwidthAnnotationsShapeThePodsTraffic() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let network = TestBridgeNetwork(dir: dir)
    defer { network.removeBridge() }
    try network.conflist(bandwidth: true).write(toFile: "\(dir.cniDir)/10-crio-it.conflist", atomically: true, encoding: .utf8)
    let fixture = try await SandboxFixture(reusing: dir)

    var bad = podConfig("bad-bandwidth")
    bad.annotations = ["kubernetes.io/ingress-bandwidth": "lots"]
    let refused = await #expect(throws: RPCError.self) { try await fixture.run(bad) }
    #expect(refused?.code == .invalidArgument)
    #expect(refused?.message.contains("ingress-bandwidth") == true, "\(String(describing: refused))")

    var config = podConfig("shaped")
    config.annotations = ["kubernetes.io/ingress-bandwidth": "1M", "kubernetes.io/egress-bandwidth": "2M"]
    let id = try await fixture.run(config)
    let veths = network.veths
    #expect(veths.count == 1)
    // Ingress: a token bucket on the host side of the pod's veth; egress: one on the ifb device it redirects to.
    let ingress = try run("/usr/sbin/tc", ["qdisc", "show", "dev", veths.first ?? "none"]).output
    #expect(ingress.contains("tbf") && ingress.contains("rate 1Mbit"), "\(ingress)")
    let all = try run("/usr/sbin/tc", ["qdisc", "show"]).output
    #expect(all.contains("rate 2Mbit"), "\(all)")
    try await fixture.stop(id)
    try await fixture.remove(id)
    #expect(try !run("/usr/sbin/tc", ["qdisc", "show"]).output.contains("rate 2Mbit"), "the egress shaper is gone")
    #expect(network.allocatedIPs.isEmpty && network.veths.isEmpty)
    try await fixture.stopDaemon()
  }

  /// After a restart, CNI CHECK runs for every ready pod: a pod whose
  /// interface lost its address is not ready any more; a healthy one is.
  @Test func checkAfterARestartFindsABrokenPodNetwork() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let network = TestBridgeNetwork(dir: dir)
    defer { network.removeBridge() }
    try network.conflist.write(toFile: "\(dir.cniDir)/10-crio-it.conflist", atomically: true, encoding: .utf8)
    let fixture = try await SandboxFixture(reusing: dir)
    let healthy = try await fixture.run(podConfig("healthy"))
    let broken = try await fixture.run(podConfig("broken"))
    #expect(try await fixture.daemon.stop(SIGKILL) == SIGKILL)
    let flushed = try run(
      "/usr/bin/nsenter", ["--net=\(dir.namespacesDir)/netns/\(broken)", "/usr/sbin/ip", "addr", "flush", "dev", "eth0"])
    #expect(flushed.status == 0, "\(flushed.output)")
    fixture.daemon = try await DaemonProcess.started(in: dir)
    #expect(try await fixture.status(healthy).status.state == .sandboxReady)
    #expect(try await fixture.status(broken).status.state == .sandboxNotready)
    #expect(fixture.daemon.log.contains("Pod network check failed"), "\(fixture.daemon.log)")
    for id in [healthy, broken] {
      try await fixture.stop(id)
      try await fixture.remove(id)
    }
    #expect(network.allocatedIPs.isEmpty && network.veths.isEmpty)
    try await fixture.stopDaemon()
  }

  /// portmap's iptables rules are the plugin's to remove on DEL; after a
  /// crash the cached configuration still gets them removed.
  @Test func portmapRulesGoAfterACrashAndRestart() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let network = TestBridgeNetwork(dir: dir)
    defer { network.removeBridge() }
    try network.conflist(portmap: true).write(toFile: "\(dir.cniDir)/10-crio-it.conflist", atomically: true, encoding: .utf8)
    let fixture = try await SandboxFixture(reusing: dir)
    var config = podConfig("mapped")
    var mapping = Runtime_V1_PortMapping()
    mapping.containerPort = 80
    mapping.hostPort = Int32.random(in: 40000...49999)
    config.portMappings = [mapping]
    let id = try await fixture.run(config)
    #expect(network.iptablesRules.contains { $0.contains(String(mapping.hostPort)) }, "\(network.iptablesRules)")
    #expect(try await fixture.daemon.stop(SIGKILL) == SIGKILL)
    fixture.daemon = try await DaemonProcess.started(in: dir)
    try await fixture.stop(id)
    try await fixture.remove(id)
    #expect(network.iptablesRules.isEmpty, "\(network.iptablesRules)")
    #expect(network.allocatedIPs.isEmpty && network.veths.isEmpty)
    try await fixture.stopDaemon()
  }
}
