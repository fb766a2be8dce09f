import Foundation
import Glibc
import Testing

@testable import CRIORuntime

/// A cgroup tree on disk, written from fixtures in the kernel's own formats.
private final class FixtureTree {
  let root: String

  init() throws {
    root = FileManager.default.temporaryDirectory.appendingPathComponent("crio-cg-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(atPath: root) }

  func write(_ directory: String, _ files: [String: String]) throws {
    let dir = "\(root)/\(directory)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for (name, content) in files {
      try content.write(toFile: "\(dir)/\(name)", atomically: false, encoding: .utf8)
    }
  }
}

// MARK: cgroup v2 fixtures (a 6.x kernel: memory.stat has `kernel`, memory.peak exists)

private let v2MemoryStat = """
  anon 1236992
  file 4096000
  kernel 307200
  kernel_stack 16384
  pagetables 53248
  sec_pagetables 0
  percpu 720
  sock 0
  vmalloc 0
  shmem 0
  zswap 0
  zswapped 0
  file_mapped 1531904
  file_dirty 0
  file_writeback 0
  swapcached 0
  anon_thp 0
  file_thp 0
  shmem_thp 0
  inactive_anon 1228800
  active_anon 8192
  inactive_file 2867200
  active_file 1228800
  unevictable 0
  slab_reclaimable 141616
  slab_unreclaimable 84368
  slab 225984
  workingset_refault_anon 0
  workingset_refault_file 0
  workingset_activate_anon 0
  workingset_activate_file 0
  workingset_restore_anon 0
  workingset_restore_file 0
  workingset_nodereclaim 0
  pgscan 0
  pgsteal 0
  pgscan_kswapd 0
  pgscan_direct 0
  pgsteal_kswapd 0
  pgsteal_direct 0
  pgfault 2871
  pgmajfault 12
  pgrefill 0
  pgactivate 0
  pgdeactivate 0
  pglazyfree 0
  pglazyfreed 0
  thp_fault_alloc 0
  thp_collapse_alloc 0

  """

private let v2CPUStat = """
  usage_usec 283345
  user_usec 170006
  system_usec 113338
  core_sched.force_idle_usec 0
  nr_periods 40
  nr_throttled 3
  throttled_usec 51260
  nr_bursts 0
  burst_usec 0

  """

private let v2Files: [String: String] = [
  "cgroup.procs": "1234\n1240\n",
  "cgroup.threads": "1234\n1240\n1241\n",
  "cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
  "cpu.stat": v2CPUStat,
  "cpu.max": "20000 100000\n",
  "cpu.weight": "39\n",
  "cpu.pressure": "some avg10=0.00 avg60=0.12 avg300=0.05 total=48123\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=20112\n",
  "memory.current": "5574656\n",
  "memory.max": "67108864\n",
  "memory.peak": "8388608\n",
  "memory.low": "0\n",
  "memory.stat": v2MemoryStat,
  "memory.events": "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n",
  "memory.swap.current": "0\n",
  "memory.swap.max": "max\n",
  "memory.pressure": "some avg10=1.50 avg60=0.40 avg300=0.10 total=9000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=4000\n",
  "io.stat": "8:16 rbytes=0 wbytes=4096 rios=0 wios=1 dbytes=0 dios=0\n8:0 rbytes=1310720 wbytes=8192 rios=40 wios=2 dbytes=0 dios=0\n",
  "io.pressure": "some avg10=0.00 avg60=0.00 avg300=0.00 total=700\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=600\n",
  "pids.current": "3\n",
  "pids.max": "max\n",
]

@Suite struct CgroupV2ReaderTests {
  @Test func readsEveryControllerOfAContainerCgroup() throws {
    let tree = try FixtureTree()
    try tree.write("", ["cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n", "cgroup.procs": "1\n"])
    try tree.write("kubepods/pod1/crio-abc", v2Files)
    let reader = CgroupHierarchy.reader(root: tree.root)
    #expect(reader is CgroupV2Reader)
    let stats = try #require(reader.stats(path: "/kubepods/pod1/crio-abc"))

    let cpu = try #require(stats.cpu)
    #expect(cpu.usageNanos == 283_345_000)
    #expect(cpu.userNanos == 170_006_000)
    #expect(cpu.systemNanos == 113_338_000)
    #expect(cpu.periods == 40)
    #expect(cpu.throttledPeriods == 3)
    #expect(cpu.throttledNanos == 51_260_000)
    #expect(cpu.quotaMicros == 20000)
    #expect(cpu.periodMicros == 100_000)
    // The kubelet writes weight 39 for 1024 shares; back as shares it rounds down to 998.
    #expect(cpu.shares == 998)

    let memory = try #require(stats.memory)
    #expect(memory.usage == 5_574_656)
    #expect(memory.limit == 67_108_864)
    #expect(memory.workingSet == 5_574_656 - 2_867_200)
    #expect(memory.available == 67_108_864 - (5_574_656 - 2_867_200))
    #expect(memory.rss == 1_236_992)
    #expect(memory.cache == 4_096_000)
    #expect(memory.kernel == 307_200)
    #expect(memory.mappedFile == 1_531_904)
    #expect(memory.maxUsage == 8_388_608)
    #expect(memory.pageFaults == 2871)
    #expect(memory.majorPageFaults == 12)
    #expect(memory.hierarchyPageFaults == 2871)
    #expect(memory.failcnt == 5)
    #expect(memory.oomKills == 1)
    #expect(memory.reservation == nil, "memory.low 0 is no reservation")
    #expect(memory.swapUsage == 0)
    #expect(memory.swapLimit == nil, "memory.swap.max is max")

    #expect(stats.pids == .init(current: 3, limit: nil))
    #expect(stats.io == [
      .init(major: 8, minor: 0, readBytes: 1_310_720, writeBytes: 8192, reads: 40, writes: 2),
      .init(major: 8, minor: 16, readBytes: 0, writeBytes: 4096, reads: 0, writes: 1),
    ])
    #expect(stats.cpuPressure?.some.totalMicros == 48123)
    #expect(stats.cpuPressure?.some.avg60 == 0.12)
    #expect(stats.cpuPressure?.full?.totalMicros == 20112)
    #expect(stats.memoryPressure?.some.avg10 == 1.5)
    #expect(stats.ioPressure?.full?.totalMicros == 600)
    #expect(stats.processes == [1234, 1240])
    #expect(stats.threads == 3)
  }

  @Test func olderKernelsAndUnlimitedSettings() throws {
    // Before 5.18 memory.stat had no `kernel` line and there was no memory.peak;
    // before 5.13 cpu.pressure had no `full` line.
    let tree = try FixtureTree()
    var files = v2Files
    files["memory.stat"] = v2MemoryStat.split(separator: "\n").filter { !$0.hasPrefix("kernel ") }.joined(separator: "\n")
    files["memory.peak"] = nil
    files["memory.max"] = "max\n"
    files["memory.swap.max"] = "1073741824\n"
    files["memory.swap.current"] = "4096\n"
    files["cpu.max"] = "max 100000\n"
    files["cpu.pressure"] = "some avg10=0.00 avg60=0.00 avg300=0.00 total=77\n"
    files["pids.max"] = "1024\n"
    try tree.write("crio/crio-def", files)
    let stats = try #require(CgroupV2Reader(root: tree.root).stats(path: "/crio/crio-def"))
    let memory = try #require(stats.memory)
    #expect(memory.kernel == 16384 + 53248 + 225_984, "kernel_stack + pagetables + slab")
    #expect(memory.maxUsage == nil)
    #expect(memory.limit == nil)
    #expect(memory.available == nil)
    #expect(memory.swapUsage == 4096)
    #expect(memory.swapLimit == 1_073_741_824)
    #expect(stats.cpu?.quotaMicros == nil)
    #expect(stats.cpu?.periodMicros == 100_000)
    #expect(stats.cpuPressure?.full == nil)
    #expect(stats.cpuPressure?.some.totalMicros == 77)
    #expect(stats.pids?.limit == 1024)
  }

  @Test func anAbsentCgroupIsNil() throws {
    let tree = try FixtureTree()
    try tree.write("", ["cgroup.controllers": "cpu memory\n"])
    #expect(CgroupV2Reader(root: tree.root).stats(path: "/crio/crio-gone") == nil)
  }

  @Test func processesOfChildCgroupsCount() throws {
    // A kubelet pod cgroup holds no process itself; its containers' cgroups do.
    let tree = try FixtureTree()
    try tree.write("kubepods/pod9", ["cgroup.procs": "", "cgroup.threads": "", "cpu.stat": v2CPUStat])
    try tree.write("kubepods/pod9/crio-a", ["cgroup.procs": "10\n", "cgroup.threads": "10\n11\n"])
    try tree.write("kubepods/pod9/crio-b", ["cgroup.procs": "20\n", "cgroup.threads": "20\n"])
    let stats = try #require(CgroupV2Reader(root: tree.root).stats(path: "/kubepods/pod9"))
    #expect(stats.processes.sorted() == [10, 20])
    #expect(stats.threads == 3)
  }

  @Test func weightToSharesIsTheInverseOfTheKubeletMapping() {
    #expect(CgroupV2Reader.shares(fromWeight: 1) == 2)
    #expect(CgroupV2Reader.shares(fromWeight: 10000) == 262_144)
    #expect(CgroupV2Reader.shares(fromWeight: 100) == 2597)
  }
}

// MARK: cgroup v1 fixtures (one hierarchy per controller, as on this project's hosts)

private let v1MemoryStat = """
  cache 1048576
  rss 3145728
  rss_huge 0
  shmem 0
  mapped_file 524288
  dirty 0
  writeback 0
  swap 4096
  pgpgin 5000
  pgpgout 3000
  pgfault 7000
  pgmajfault 3
  inactive_anon 0
  active_anon 3145728
  inactive_file 786432
  active_file 262144
  unevictable 0
  hierarchical_memory_limit 67108864
  hierarchical_memsw_limit 9223372036854771712
  total_cache 1048576
  total_rss 3145728
  total_rss_huge 0
  total_shmem 0
  total_mapped_file 524288
  total_dirty 0
  total_writeback 0
  total_swap 4096
  total_pgpgin 5000
  total_pgpgout 3000
  total_pgfault 7100
  total_pgmajfault 4
  total_inactive_anon 0
  total_active_anon 3145728
  total_inactive_file 786432
  total_active_file 262144
  total_unevictable 0

  """

private func writeV1(_ tree: FixtureTree, path: String, cpuacctStat: Bool = false, memoryLimit: String = "67108864") throws {
  var cpuacct = ["cpuacct.usage": "1234567890\n", "cgroup.procs": "", "tasks": ""]
  if cpuacctStat {
    cpuacct["cpuacct.stat"] = "user 150\nsystem 25\n"
  } else {
    cpuacct["cpuacct.usage_user"] = "1000000000\n"
    cpuacct["cpuacct.usage_sys"] = "200000000\n"
  }
  try tree.write("cpuacct\(path)", cpuacct)
  try tree.write("cpu\(path)", [
    "cpu.stat": "nr_periods 10\nnr_throttled 2\nthrottled_time 30000000\nnr_bursts 0\nburst_time 0\n",
    "cpu.shares": "1024\n", "cpu.cfs_quota_us": "-1\n", "cpu.cfs_period_us": "100000\n",
    "cgroup.procs": "", "tasks": "",
  ])
  try tree.write("memory\(path)", [
    "memory.usage_in_bytes": "4980736\n",
    "memory.limit_in_bytes": "\(memoryLimit)\n",
    "memory.max_usage_in_bytes": "6291456\n",
    "memory.stat": v1MemoryStat,
    "memory.failcnt": "0\n",
    "memory.kmem.usage_in_bytes": "655360\n",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    "memory.soft_limit_in_bytes": "9223372036854771712\n",
    "memory.memsw.usage_in_bytes": "4984832\n",
    "memory.memsw.limit_in_bytes": "134217728\n",
    "cgroup.procs": "300\n301\n",
    "tasks": "300\n301\n302\n303\n",
  ])
  try tree.write("pids\(path)", ["pids.current": "4\n", "pids.max": "max\n", "cgroup.procs": "300\n301\n"])
  try tree.write("blkio\(path)", [
    "blkio.throttle.io_service_bytes_recursive":
      "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 12288\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 12288\nTotal 12288\n",
    "blkio.throttle.io_serviced_recursive":
      "8:0 Read 1\n8:0 Write 2\n8:0 Sync 3\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 3\nTotal 3\n",
  ])
}

@Suite struct CgroupV1ReaderTests {
  @Test func readsEachControllersHierarchy() throws {
    let tree = try FixtureTree()
    try writeV1(tree, path: "/crio/crio-abc")
    let reader = CgroupHierarchy.reader(root: tree.root)
    #expect(reader is CgroupV1Reader, "no cgroup.controllers at the root: v1 (or hybrid)")
    let stats = try #require(reader.stats(path: "/crio/crio-abc"))

    let cpu = try #require(stats.cpu)
    #expect(cpu.usageNanos == 1_234_567_890)
    #expect(cpu.userNanos == 1_000_000_000)
    #expect(cpu.systemNanos == 200_000_000)
    #expect(cpu.periods == 10)
    #expect(cpu.throttledPeriods == 2)
    #expect(cpu.throttledNanos == 30_000_000)
    #expect(cpu.shares == 1024)
    #expect(cpu.quotaMicros == nil, "-1 is no quota")
    #expect(cpu.periodMicros == 100_000)

    let memory = try #require(stats.memory)
    #expect(memory.usage == 4_980_736)
    #expect(memory.limit == 67_108_864)
    #expect(memory.workingSet == 4_980_736 - 786_432)
    #expect(memory.available == 67_108_864 - (4_980_736 - 786_432))
    #expect(memory.rss == 3_145_728)
    #expect(memory.cache == 1_048_576)
    #expect(memory.mappedFile == 524_288)
    #expect(memory.kernel == 655_360)
    #expect(memory.maxUsage == 6_291_456)
    #expect(memory.pageFaults == 7000)
    #expect(memory.majorPageFaults == 3)
    #expect(memory.hierarchyPageFaults == 7100)
    #expect(memory.hierarchyMajorPageFaults == 4)
    #expect(memory.failcnt == 0)
    #expect(memory.oomKills == 2)
    #expect(memory.reservation == nil, "the soft limit is unlimited")
    #expect(memory.swapUsage == 4096, "memsw minus memory")
    #expect(memory.swapLimit == 134_217_728 - 67_108_864)

    #expect(stats.pids == .init(current: 4, limit: nil))
    #expect(stats.io == [.init(major: 8, minor: 0, readBytes: 4096, writeBytes: 8192, reads: 1, writes: 2)])
    #expect(stats.processes == [300, 301])
    #expect(stats.threads == 4)
    #expect(stats.cpuPressure == nil, "v1 has no per-cgroup pressure")
  }

  @Test func ticksWhenNanosecondSplitsAreMissingAndUnlimitedMemory() throws {
    let tree = try FixtureTree()
    try writeV1(tree, path: "/kubepods/podx/crio-1", cpuacctStat: true, memoryLimit: "9223372036854771712")
    let stats = try #require(CgroupV1Reader(root: tree.root).stats(path: "/kubepods/podx/crio-1"))
    // USER_HZ ticks of 10 ms.
    #expect(stats.cpu?.userNanos == 1_500_000_000)
    #expect(stats.cpu?.systemNanos == 250_000_000)
    #expect(stats.memory?.limit == nil)
    #expect(stats.memory?.available == nil)
    #expect(stats.memory?.swapLimit == nil, "no swap limit without a memory limit")
  }

  @Test func anAbsentCgroupIsNil() throws {
    let tree = try FixtureTree()
    try writeV1(tree, path: "/crio/crio-abc")
    #expect(CgroupV1Reader(root: tree.root).stats(path: "/crio/crio-other") == nil)
  }

  @Test func blkioLinesWithoutADeviceAreIgnored() {
    let devices = CgroupV1Reader.parseIO(
      bytes: "8:16 Read 10\n8:16 Write 20\n8:0 Read 1\nTotal 31\n", operations: "8:16 Read 1\n8:16 Write 2\n")
    #expect(devices == [
      .init(major: 8, minor: 0, readBytes: 1),
      .init(major: 8, minor: 16, readBytes: 10, writeBytes: 20, reads: 1, writes: 2),
    ])
  }
}

@Suite struct CgroupStatsTests {
  @Test func sumAddsUsageButNotLimits() {
    var a = CgroupStats()
    a.cpu = .init(usageNanos: 100, userNanos: 60, systemNanos: 40)
    var memoryA = CgroupStats.Memory(usage: 1000, inactiveFile: 100)
    memoryA.limit = 5000
    memoryA.rss = 700
    a.memory = memoryA
    a.pids = .init(current: 2, limit: 10)
    a.processes = [1, 2]
    a.io = [.init(major: 8, minor: 0, readBytes: 5)]
    var b = CgroupStats()
    b.cpu = .init(usageNanos: 50)
    b.memory = .init(usage: 500, inactiveFile: 0)
    b.pids = .init(current: 1)
    b.processes = [3]
    b.io = [.init(major: 8, minor: 0, readBytes: 7, writes: 1)]
    let sum = CgroupStats.sum([a, b])
    #expect(sum?.cpu?.usageNanos == 150)
    #expect(sum?.cpu?.userNanos == 60)
    #expect(sum?.memory?.usage == 1500)
    #expect(sum?.memory?.workingSet == 1400)
    #expect(sum?.memory?.limit == nil)
    #expect(sum?.memory?.rss == 700)
    #expect(sum?.pids == .init(current: 3, limit: nil))
    #expect(sum?.processes == [1, 2, 3])
    #expect(sum?.io == [.init(major: 8, minor: 0, readBytes: 12, writes: 1)])
    #expect(CgroupStats.sum([]) == nil)
  }

  @Test func workingSetNeverUnderflows() {
    #expect(CgroupStats.Memory(usage: 10, inactiveFile: 20).workingSet == 0)
  }

  @Test func pressureFilesParse() {
    let pressure = CgroupFiles.parsePressure("some avg10=2.04 avg60=0.75 avg300=0.40 total=157656722\nfull avg10=0.00 avg60=0.13 avg300=0.06 total=10000\n")
    #expect(pressure?.some == .init(totalMicros: 157_656_722, avg10: 2.04, avg60: 0.75, avg300: 0.40))
    #expect(pressure?.full?.totalMicros == 10000)
    #expect(CgroupFiles.parsePressure("garbage\n") == nil)
  }
}

// MARK: hugetlb and thread IDs (container_hugetlb_*, container_tasks_state)

@Suite struct HugeTLBReaderTests {
  @Test func v1ReadsUsageAndPeakOfEachPageSize() throws {
    let tree = try FixtureTree()
    try writeV1(tree, path: "/crio/crio-abc")
    // The controller's root and the container's cgroup, as a 6.x kernel writes them.
    try tree.write("hugetlb", [
      "hugetlb.2MB.usage_in_bytes": "0\n", "hugetlb.1GB.usage_in_bytes": "0\n", "hugetlb.2MB.limit_in_bytes": "9223372036854771712\n",
    ])
    try tree.write("hugetlb/crio/crio-abc", [
      "hugetlb.2MB.usage_in_bytes": "4194304\n", "hugetlb.2MB.max_usage_in_bytes": "6291456\n",
      "hugetlb.2MB.limit_in_bytes": "9223372036854771712\n", "hugetlb.2MB.failcnt": "0\n",
      "hugetlb.2MB.rsvd.usage_in_bytes": "4194304\n", "hugetlb.2MB.rsvd.max_usage_in_bytes": "4194304\n",
      "hugetlb.1GB.usage_in_bytes": "0\n", "hugetlb.1GB.max_usage_in_bytes": "0\n",
    ])
    let reader = CgroupV1Reader(root: tree.root)
    #expect(reader.hasHugeTLB)
    let stats = try #require(reader.stats(path: "/crio/crio-abc"))
    #expect(stats.hugetlb == [
      .init(pageSize: "2MB", usage: 4_194_304, maxUsage: 6_291_456), .init(pageSize: "1GB", usage: 0, maxUsage: 0),
    ])
  }

  @Test func v1WithoutTheControllerReportsNone() throws {
    let tree = try FixtureTree()
    try writeV1(tree, path: "/crio/crio-abc")
    let reader = CgroupV1Reader(root: tree.root)
    #expect(!reader.hasHugeTLB)
    #expect(try #require(reader.stats(path: "/crio/crio-abc")).hugetlb.isEmpty)
  }

  @Test func v2ReadsCurrentOfEachPageSizeAndKeepsNoPeak() throws {
    let tree = try FixtureTree()
    try tree.write("", ["cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n"])
    try tree.write("crio/crio-abc", [
      "cgroup.procs": "7\n", "cgroup.threads": "7\n8\n", "cpu.stat": v2CPUStat,
      "hugetlb.2MB.current": "2097152\n", "hugetlb.2MB.max": "max\n", "hugetlb.2MB.events": "max 0\n",
      "hugetlb.2MB.rsvd.current": "2097152\n", "hugetlb.2MB.rsvd.max": "max\n",
      "hugetlb.1GB.current": "0\n", "hugetlb.1GB.max": "max\n",
    ])
    let reader = CgroupV2Reader(root: tree.root)
    #expect(reader.hasHugeTLB)
    let stats = try #require(reader.stats(path: "/crio/crio-abc"))
    #expect(stats.hugetlb == [.init(pageSize: "2MB", usage: 2_097_152), .init(pageSize: "1GB", usage: 0)])
    #expect(stats.threadIDs.sorted() == [7, 8])
    #expect(stats.threads == 2)
  }

  @Test func v2WithoutTheControllerReportsNone() throws {
    let tree = try FixtureTree()
    try tree.write("", ["cgroup.controllers": "cpu memory pids\n"])
    #expect(!CgroupV2Reader(root: tree.root).hasHugeTLB)
  }

  @Test func pageSizesSortBySize() {
    #expect(CgroupFiles.pageSizeBytes("2MB") == 2 << 20)
    #expect(CgroupFiles.pageSizeBytes("64KB") == 64 << 10)
    #expect(CgroupFiles.pageSizeBytes("1GB") == 1 << 30)
    #expect(CgroupFiles.pageSizeBytes("huge") == nil)
  }

  @Test func v1ThreadIDsComeFromTasks() throws {
    let tree = try FixtureTree()
    try writeV1(tree, path: "/crio/crio-abc")
    let stats = try #require(CgroupV1Reader(root: tree.root).stats(path: "/crio/crio-abc"))
    #expect(stats.threadIDs == [300, 301, 302, 303])
    #expect(stats.threads == 4)
  }
}
