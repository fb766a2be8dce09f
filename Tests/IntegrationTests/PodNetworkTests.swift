import CCRIOSys
import CRIAPI
import CRIClient
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import Testing

@Suite(.serialized) struct PodNetworkTests {
  @Test func podsGetAddressesReachableFromTheHostAndEachOtherAndGiveThemBack() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let network = TestBridgeNetwork(dir: dir)
    defer { network.removeBridge() }
    try network.conflist.write(toFile: "\(dir.cniDir)/10-crio-it.conflist", atomically: true, encoding: .utf8)
    let fixture = try await SandboxFixture(reusing: dir)

    let a = try await fixture.run(podConfig("net-a"))
    let b = try await fixture.run(podConfig("net-b"))
    let ipA = try await fixture.status(a).status.network.ip
    let ipB = try await fixture.status(b).status.network.ip
    #expect(ipA.hasPrefix(String(network.subnet.dropLast(4))), "\(ipA) in \(network.subnet)")
    #expect(ipB.hasPrefix(String(network.subnet.dropLast(4))))
    #expect(ipA != ipB)
    #expect(Set(network.allocatedIPs) == [ipA, ipB])

    // eth0 in the pod's namespace holds the address; the host reaches it; the pods reach each other.
    let netnsA = "\(dir.namespacesDir)/netns/\(a)"
    let inPod = try run("/usr/bin/nsenter", ["--net=\(netnsA)", "/usr/sbin/ip", "-4", "-o", "addr", "show", "eth0"])
    #expect(inPod.output.contains(ipA))
    #expect(try run("/bin/busybox", ["ping", "-c", "1", "-W", "3", ipA]).status == 0)
    #expect(try run("/usr/bin/nsenter", ["--net=\(netnsA)", "/bin/busybox", "ping", "-c", "1", "-W", "3", ipB]).status == 0)

    // Stop gives the addresses back and removes the veths.
    try await fixture.stop(a)
    #expect(network.allocatedIPs == [ipB])
    try await fixture.stop(b)
    #expect(network.allocatedIPs.isEmpty)
    let links = try run("/usr/sbin/ip", ["-o", "link", "show", "master", network.bridge]).output
    #expect(links.isEmpty, "no veth left on the bridge: \(links)")
    for id in [a, b] { try await fixture.remove(id) }
    #expect(fixture.mounts.isEmpty)
    try await fixture.stopDaemon()
  }

  @Test func aCrashedDaemonStillReleasesTheAddressAfterRestart() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let network = TestBridgeNetwork(dir: dir)
    defer { network.removeBridge() }
    try network.conflist.write(toFile: "\(dir.cniDir)/10-crio-it.conflist", atomically: true, encoding: .utf8)
    let fixture = try await SandboxFixture(reusing: dir)
    let id = try await fixture.run(podConfig("crash"))
    #expect(network.allocatedIPs.count == 1)
    #expect(try await fixture.daemon.stop(SIGKILL) == SIGKILL)
    // Even with the configuration gone, DEL uses what ADD was given.
    try FileManager.default.removeItem(atPath: "\(dir.cniDir)/10-crio-it.conflist")
    fixture.daemon = try await DaemonProcess.started(in: dir)
    try await fixture.stop(id)
    #expect(network.allocatedIPs.isEmpty)
    try await fixture.remove(id)
    #expect(fixture.mounts.isEmpty)
    try await fixture.stopDaemon()
  }

  @Test func aFailingPluginFailsRunPodSandboxWithItsMessageAndLeavesNothing() async throws {
    try requireHostTools()
    let dir = try DaemonDirectory()
    let network = TestBridgeNetwork(dir: dir)
    defer { network.removeBridge() }
    // host-local refuses a range with no usable address; bridge has already run by then.
    let broken = network.conflist.replacingOccurrences(of: "\"subnet\": \"\(network.subnet)\"", with: "\"subnet\": \"10.231.255.0/32\"")
      .replacingOccurrences(of: "\"gateway\": \"\(network.gateway)\"", with: "\"gateway\": \"10.231.255.0\"")
    try broken.write(toFile: "\(dir.cniDir)/10-crio-it.conflist", atomically: true, encoding: .utf8)
    let fixture = try await SandboxFixture(reusing: dir)
    let error = await #expect(throws: RPCError.self) { try await fixture.run(podConfig("broken")) }
    #expect(error?.message.contains("CNI plugin bridge ADD failed") == true, "\(String(describing: error))")
    #expect(try await fixture.list().isEmpty)
    #expect(fixture.mounts.isEmpty)
    let pins = (try? FileManager.default.subpathsOfDirectory(atPath: dir.namespacesDir)) ?? []
    #expect(pins.allSatisfy { !$0.contains("/") }, "no pin files left: \(pins)")
    // The name is free again (on a fresh bridge: the broken attempt left one with a bad address).
    network.removeBridge()
    try network.conflist.write(toFile: "\(dir.cniDir)/10-crio-it.conflist", atomically: true, encoding: .utf8)
    let id = try await fixture.run(podConfig("broken"))
    try await fixture.stop(id)
    try await fixture.remove(id)
    try await fixture.stopDaemon()
  }

  @Test func withoutANetworkConfigurationPodsCannotRun() async throws {
    let fixture = try await SandboxFixture(conflist: nil)
    let error = await #expect(throws: RPCError.self) { try await fixture.run(podConfig("nonet")) }
    #expect(error?.message.contains("no CNI network configuration") == true)
    #expect(fixture.mounts.isEmpty)
    // Host-network pods need no CNI.
    var host = podConfig("hostnet")
    host.linux.securityContext.namespaceOptions.network = .node
    let id = try await fixture.run(host)
    #expect(try await fixture.status(id).status.network.ip.isEmpty)
    try await fixture.remove(id)
    try await fixture.stopDaemon()
  }
}
