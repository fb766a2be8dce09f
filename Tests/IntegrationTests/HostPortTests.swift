import CRIAPI
import CRIClient
import Foundation
import Testing

/// hostPort through the portmap plugin, as the shipped default conflist
/// chains it: reachable on 127.0.0.1 and on the gateway address from the
/// host, and every rule and address given back on removal.
@Suite(.serialized) struct HostPortTests {
  @Test func aHostPortReachesThePodFromTheHostAndLeavesNothingBehind() async throws {
    let f = try await ContainerTests.Fixture()
    let network = TestBridgeNetwork(dir: f.dir)
    defer { network.removeBridge() }
    // The shipped conflist with the test's bridge, subnet and IPAM store. It
    // appears after the daemon started: the next pod uses it.
    let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("contrib/cni/11-crio-ipv4-bridge.conflist").path
    let conflist = try String(contentsOfFile: shipped, encoding: .utf8)
      .replacingOccurrences(of: "\"cni0\"", with: "\"\(network.bridge)\"")
      .replacingOccurrences(of: "10.85.0.0/16", with: network.subnet)
      .replacingOccurrences(of: "\"type\": \"host-local\",", with: "\"type\": \"host-local\", \"dataDir\": \"\(network.ipamDirectory)\",")
      .replacingOccurrences(of: "\"name\": \"crio\"", with: "\"name\": \"\(network.name)\"")
    try conflist.write(toFile: "\(f.dir.cniDir)/05-hostport.conflist", atomically: true, encoding: .utf8)

    let hostPort = Int32.random(in: 20000...29999)
    var config = podConfig("hostport", hostname: "hostport")
    config.logDirectory = "\(f.dir.path)/pod-logs/hostport"
    var mapping = Runtime_V1_PortMapping()
    mapping.containerPort = 8080
    mapping.hostPort = hostPort
    var containerOnly = Runtime_V1_PortMapping()
    containerOnly.containerPort = 9090  // no host port: nothing for portmap to do
    config.portMappings = [mapping, containerOnly]
    let pod = try await f.call {
      var request = Runtime_V1_RunPodSandboxRequest()
      request.config = config
      return try await $0.runtime.runPodSandbox(request, options: $0.options).podSandboxID
    }
    let id = try await f.create(
      (pod, config), name: "web",
      command: ["sh", "-c", "mkdir -p /www && echo via-host-port > /www/index.html && exec httpd -f -p 8080 -h /www"])
    try await f.start(id)
    let ip = try await f.call {
      var request = Runtime_V1_PodSandboxStatusRequest()
      request.podSandboxID = pod
      return try await $0.runtime.podSandboxStatus(request, options: $0.options).status.network.ip
    }
    #expect(ip.hasPrefix(String(network.subnet.dropLast(4))), "\(ip) in \(network.subnet)")
    #expect(try iptablesRules().contains(String(hostPort)), "portmap installed its DNAT rule")

    for address in ["127.0.0.1", network.gateway] {
      var page = ""
      for _ in 0..<50 where !page.contains("via-host-port") {
        page = (try? await StreamingTests.httpGet(port: Int(hostPort), host: address)) ?? ""
        if !page.contains("via-host-port") { try await Task.sleep(for: .milliseconds(100)) }
      }
      #expect(page.contains("via-host-port"), "\(address):\(hostPort) answers: \(page)")
    }

    try await f.call {
      var stop = Runtime_V1_StopPodSandboxRequest()
      stop.podSandboxID = pod
      _ = try await $0.runtime.stopPodSandbox(stop, options: $0.options)
      var remove = Runtime_V1_RemovePodSandboxRequest()
      remove.podSandboxID = pod
      _ = try await $0.runtime.removePodSandbox(remove, options: $0.options)
    }
    #expect(!(try iptablesRules().contains(String(hostPort))), "no iptables rule left for the host port")
    #expect(network.allocatedIPs.isEmpty, "no address left allocated")
    #expect(f.mounts.isEmpty, "\(f.mounts)")
    try await f.images.stop()
  }

  func iptablesRules() throws -> String {
    let saved = try runCommand("/usr/sbin/iptables-save", ["-t", "nat"])
    try #require(saved.status == 0, "iptables-save: \(saved.output)")
    return saved.output
  }
}
