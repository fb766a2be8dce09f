import CRIAPI
import CRIClient
import CRIOTestSupport
import Foundation
import GRPCCore
import Glibc
import Testing

/// Many pods at once, and many calls on one pod at once.
@Suite(.serialized) struct LoadTests {
  /// 50 pods with one container each, all created concurrently, all
  /// succeed; all removed concurrently, and nothing is left behind.
  @Test func fiftyPodsCreatedAndRemovedConcurrentlyLeaveNothing() async throws {
    let fixture = try await NodeFixture(infraContainers: false)
    let baseline = fixture.inventory
    let count = 50
    let created = try await withThrowingTaskGroup(of: (String, String).self) { group in
      for i in 0..<count {
        group.addTask {
          let name = "load-\(i)"
          let pod = try await fixture.runPod(name)
          let container = try await fixture.createContainer(in: pod, podName: name, name: "app")
          try await fixture.startContainer(container)
          return (pod, container)
        }
      }
      return try await group.reduce(into: []) { $0.append($1) }
    }
    #expect(created.count == count)
    #expect(Set(created.map(\.0)).count == count)
    let pods = try await fixture.pods()
    #expect(pods.count == count && pods.allSatisfy { $0.state == .sandboxReady })
    let containers = try await fixture.containers()
    #expect(containers.count == count && containers.allSatisfy { $0.state == .containerRunning })
    #expect(fixture.network.allocatedIPs.count == count)
    let addresses = try await withThrowingTaskGroup(of: String.self) { group in
      for (pod, _) in created { group.addTask { try await fixture.podStatus(pod).network.ip } }
      return try await group.reduce(into: Set<String>()) { $0.insert($1) }
    }
    #expect(addresses.count == count, "every pod has an address of its own")

    try await withThrowingTaskGroup(of: Void.self) { group in
      for (pod, _) in created {
        group.addTask {
          try await fixture.stopPod(pod)
          try await fixture.removePod(pod)
        }
      }
      try await group.waitForAll()
    }
    #expect(try await fixture.pods().isEmpty)
    #expect(try await fixture.containers().isEmpty)
    let end = fixture.inventory
    #expect(end == baseline, "\(end.difference(from: baseline))")
    try await fixture.finish()
  }

  /// Create, start, stop, remove, list, status and stats on one pod, all at
  /// once and repeatedly: every call returns (no deadlock; each has a
  /// deadline), each either succeeds or fails with a CRI error, and the pod
  /// is removable afterwards with nothing left.
  @Test func concurrentCallsOnOnePodNeverDeadlock() async throws {
    let fixture = try await NodeFixture(infraContainers: false)
    let baseline = fixture.inventory
    let pod = try await fixture.runPod("busy")
    let unexpected = try await withThrowingTaskGroup(of: [String].self) { group in
      for worker in 0..<6 {
        group.addTask {
          var problems: [String] = []
          for round in 0..<5 {
            do {
              let id = try await fixture.createContainer(in: pod, podName: "busy", name: "w\(worker)-\(round)")
              try await fixture.startContainer(id)
              async let listed = fixture.containers()
              async let status = fixture.containerStatus(id)
              async let stats = fixture.call {
                try await $0.runtime.listContainerStats(Runtime_V1_ListContainerStatsRequest(), options: $0.options)
              }
              async let podStats = fixture.call {
                var request = Runtime_V1_PodSandboxStatsRequest()
                request.podSandboxID = pod
                return try await $0.runtime.podSandboxStats(request, options: $0.options)
              }
              _ = try await (listed, status, stats, podStats)
              try await fixture.stopContainer(id)
              try await fixture.removeContainer(id)
            } catch let error as RPCError {
              // A container another worker's stats call raced with may be gone: NOT_FOUND is fine, nothing else.
              if error.code != .notFound { problems.append("\(error)") }
            }
          }
          return problems
        }
      }
      return try await group.reduce(into: []) { $0 += $1 }
    }
    #expect(unexpected.isEmpty, "\(unexpected)")
    #expect(try await fixture.containers().isEmpty)
    try await fixture.stopPod(pod)
    try await fixture.removePod(pod)
    let end = fixture.inventory
    #expect(end == baseline, "\(end.difference(from: baseline))")
    try await fixture.finish()
  }
}
