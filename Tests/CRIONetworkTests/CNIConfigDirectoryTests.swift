import CRIOConfig
import Foundation
import Testing

@testable import CRIONetwork

private final class Dir {
  let path: String
  init() throws {
    path = FileManager.default.temporaryDirectory.appendingPathComponent("crio-cni-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }
  deinit { try? FileManager.default.removeItem(atPath: path) }
  func write(_ name: String, _ text: String) throws {
    try text.write(toFile: "\(path)/\(name)", atomically: true, encoding: .utf8)
  }
}

private let bridgeList = """
  {"cniVersion": "1.0.0", "name": "NAME", "plugins": [{"type": "bridge"}, {"type": "portmap"}]}
  """

@Suite struct CNIConfigDirectoryTests {
  @Test func picksTheFirstValidFileInLexicalOrder() throws {
    let dir = try Dir()
    try dir.write("20-second.conflist", bridgeList.replacingOccurrences(of: "NAME", with: "second"))
    try dir.write("10-first.conf", #"{"cniVersion": "0.4.0", "name": "first", "type": "bridge"}"#)
    try dir.write("05-broken.conflist", "{ not json")
    try dir.write("06-noplugins.conflist", #"{"cniVersion": "1.0.0", "name": "x", "plugins": []}"#)
    try dir.write("99-other.txt", bridgeList)
    let scanned = CNIConfigDirectory.scan(dir.path)
    #expect(scanned.networks.map(\.name) == ["first", "second"])
    #expect(scanned.defaultNetwork(preferred: "")?.name == "first")
    #expect(scanned.defaultNetwork(preferred: "second")?.name == "second")
    #expect(scanned.defaultNetwork(preferred: "third") == nil)
    #expect(scanned.rejected.map { ($0.file as NSString).lastPathComponent } == ["05-broken.conflist", "06-noplugins.conflist"])
    #expect(scanned.rejected[1].reason.contains("plugins"))
  }

  @Test func aMissingDirectoryHasNoNetworks() {
    let scanned = CNIConfigDirectory.scan("/nonexistent/\(UUID().uuidString)")
    #expect(scanned.networks.isEmpty)
    #expect(scanned.rejected.isEmpty)
  }

  @Test func networkHealthFollowsTheDirectory() throws {
    let dir = try Dir()
    var config = CRIOConfiguration()
    config.network.networkDir = dir.path
    let health = NetworkHealth(config: config)
    let before = health.check()
    #expect(!before.ready)
    #expect(before.reason == "NetworkPluginNotReady")
    #expect(before.message.contains("No CNI configuration file in \(dir.path)"))

    try dir.write("10-crio.conflist", bridgeList.replacingOccurrences(of: "NAME", with: "crio"))
    #expect(health.check().ready)

    config.network.cniDefaultNetwork = "other"
    let named = NetworkHealth(config: config).check()
    #expect(!named.ready)
    #expect(named.message.contains("\"other\" not found"))
  }

  @Test func theShippedDefaultConflistIsValid() throws {
    let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("contrib/cni/11-crio-ipv4-bridge.conflist").path
    let network = try CNIConfigDirectory.parse(file: file)
    #expect(network.name == "crio")
    #expect(network.cniVersion == "1.0.0")
  }
}
