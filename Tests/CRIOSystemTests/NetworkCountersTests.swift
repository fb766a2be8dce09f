import Foundation
import Glibc
import Testing

@testable import CRIOSystem

@Suite struct NetworkCountersTests {
  @Test func parsesProcNetDev() {
    let text = """
      Inter-|   Receive                                                |  Transmit
       face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
          lo:     840      10    0    0    0     0          0         0      840      10    0    0    0     0       0          0
        eth0: 1234567    8901    2    3    0     0          0         5   765432    4321    1    4    0     0       0          0

      """
    let counters = NetworkCounters.parse(text)
    #expect(counters == [
      .init(name: "lo", rxBytes: 840, rxPackets: 10, txBytes: 840, txPackets: 10),
      .init(
        name: "eth0", rxBytes: 1_234_567, rxPackets: 8901, rxErrors: 2, rxDropped: 3, txBytes: 765_432,
        txPackets: 4321, txErrors: 1, txDropped: 4),
    ])
  }

  @Test func longInterfaceNamesTouchTheColon() {
    // The kernel pads names to six columns; longer ones run into the numbers.
    let text = "verylongname0:5 1 0 0 0 0 0 0 6 2 0 0 0 0 0 0\n"
    #expect(NetworkCounters.parse(text) == [.init(name: "verylongname0", rxBytes: 5, rxPackets: 1, txBytes: 6, txPackets: 2)])
  }

  @Test func aMissingNamespaceIsAnError() {
    #expect(throws: NetworkCounters.ReadError.self) { try NetworkCounters.read(netns: "/nonexistent/netns") }
  }

  @Test func theHostNamespaceReadsLikeProcNetDev() throws {
    // The daemon's own namespace, entered through /proc/self/ns/net.
    let counters = try NetworkCounters.read(netns: "/proc/self/ns/net")
    #expect(counters.contains { $0.name == "lo" })
  }
}

@Suite struct ProcessFactsTests {
  @Test func parsesSoftLimits() {
    let text = """
      Limit                     Soft Limit           Hard Limit           Units
      Max cpu time              unlimited            unlimited            seconds
      Max file size             unlimited            unlimited            bytes
      Max processes             63704                63704                processes
      Max open files            1024                 1048576              files
      Max locked memory         8388608              8388608              bytes

      """
    let limits = ProcessFacts.parseLimits(text)
    #expect(limits["max_open_files"] == 1024)
    #expect(limits["max_processes"] == 63704)
    #expect(limits["max_file_size"] == -1)
    #expect(limits["max_locked_memory"] == 8_388_608)
  }

  @Test func countsOwnDescriptorsAndSockets() throws {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    let own = ProcessFacts.descriptors(of: [getpid()])
    #expect(own.files >= 4)
    #expect(own.sockets >= 1)
    let gone = ProcessFacts.descriptors(of: [Int32.max])
    #expect(gone.files == 0 && gone.sockets == 0)
  }
}
