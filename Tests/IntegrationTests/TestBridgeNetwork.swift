import CRIOTestSupport
import Foundation

/// A test-only bridge and subnet, with host-local's store inside the test
/// directory and a network name of its own (portmap's iptables comments
/// carry it). Traffic stays between the host and the test's own pods.
struct TestBridgeNetwork {
  let name: String
  let bridge: String
  let subnet: String
  let gateway: String
  let ipamDirectory: String

  init(dir: DaemonDirectory) {
    let n = Int.random(in: 1...250)
    let tag = Int.random(in: 1000...9999)
    name = "crio-it-\(tag)"
    bridge = "crioit\(tag)"
    subnet = "10.231.\(n).0/24"
    gateway = "10.231.\(n).1"
    ipamDirectory = "\(dir.path)/ipam"
  }

  /// bridge (with host-local) and loopback.
  var conflist: String { conflist() }

  /// The bridge network, optionally with host-local taking its range from
  /// `ipRanges` (the pod CIDR of `UpdateRuntimeConfig`), and with portmap and
  /// bandwidth chained.
  func conflist(ipRangesCapability: Bool = false, portmap: Bool = false, bandwidth: Bool = false) -> String {
    let ranges = ipRangesCapability ? "" : #", "ranges": [[{"subnet": "\#(subnet)", "gateway": "\#(gateway)"}]]"#
    var plugins = [
      #"{"type": "bridge", "bridge": "\#(bridge)", "isGateway": true, "ipMasq": false, "hairpinMode": true, "#
        + (ipRangesCapability ? #""capabilities": {"ipRanges": true}, "# : "")
        + #""ipam": {"type": "host-local", "dataDir": "\#(ipamDirectory)"\#(ranges)}}"#
    ]
    if portmap { plugins.append(#"{"type": "portmap", "capabilities": {"portMappings": true}}"#) }
    if bandwidth { plugins.append(#"{"type": "bandwidth", "capabilities": {"bandwidth": true}}"#) }
    plugins.append(#"{"type": "loopback"}"#)
    return #"{"cniVersion": "1.0.0", "name": "\#(name)", "plugins": [\#(plugins.joined(separator: ", "))]}"#
  }

  /// Addresses host-local still has allocated.
  var allocatedIPs: [String] {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: "\(ipamDirectory)/\(name)")) ?? []
    return files.filter { $0.first?.isNumber == true }
  }

  /// Host-side veths on the bridge.
  var veths: [String] {
    let links = (try? run("/usr/sbin/ip", ["-o", "link", "show", "master", bridge]).output) ?? ""
    return links.split(separator: "\n").compactMap { line in
      line.split(separator: ":").dropFirst().first.map { String($0.trimmingCharacters(in: .whitespaces).split(separator: "@").first ?? "") }
    }
  }

  /// iptables rules (of every table) that name this network: portmap's.
  var iptablesRules: [String] {
    let saved = (try? run("/usr/sbin/iptables-save", []).output) ?? ""
    return saved.split(separator: "\n").map(String.init).filter { $0.contains(name) }
  }

  /// The bridge is created by the plugin and never deleted by it: the test removes it.
  func removeBridge() {
    _ = try? run("/usr/sbin/ip", ["link", "del", bridge])
  }
}
