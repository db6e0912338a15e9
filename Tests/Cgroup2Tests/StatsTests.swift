import Cgroup2
import Linux
import OCI
import TestSupport
import Testing

@Suite struct StatsParserTests {
    @Test func cpuStatParses() {
        let text = """
            usage_usec 2458011
            user_usec 1800433
            system_usec 657578
            core_sched.force_idle_usec 0
            nr_periods 120
            nr_throttled 37
            throttled_usec 912345
            nr_bursts 2
            burst_usec 4000

            """
        let stats = CPUStats(parsing: text)
        #expect(stats.usageUsec == 2_458_011)
        #expect(stats.userUsec == 1_800_433)
        #expect(stats.systemUsec == 657_578)
        #expect(stats.nrPeriods == 120)
        #expect(stats.nrThrottled == 37)
        #expect(stats.throttledUsec == 912_345)
        #expect(stats.nrBursts == 2)
        #expect(stats.burstUsec == 4000)
    }

    @Test func cpuStatWithoutTheCpuControllerHasOnlyUsage() {
        let stats = CPUStats(parsing: "usage_usec 10\nuser_usec 6\nsystem_usec 4\n")
        #expect(stats.usageUsec == 10)
        #expect(stats.nrPeriods == nil)
        #expect(stats.throttledUsec == nil)
    }

    @Test func memoryStatParsesTheMainLines() {
        let text = """
            anon 1163264
            file 4096
            kernel 602112
            kernel_stack 32768
            pagetables 86016
            sock 12288
            shmem 0
            file_mapped 0
            file_dirty 8192
            file_writeback 0
            anon_thp 0
            inactive_anon 1146880
            active_anon 16384
            inactive_file 4096
            active_file 0
            unevictable 0
            slab 462128
            workingset_refault_anon 0
            pgfault 2016
            pgmajfault 3

            """
        let stat = MemoryStatCounters(parsing: text)
        #expect(stat.anon == 1_163_264)
        #expect(stat.file == 4096)
        #expect(stat.kernel == 602_112)
        #expect(stat.kernelStack == 32768)
        #expect(stat.pagetables == 86016)
        #expect(stat.sock == 12288)
        #expect(stat.shmem == 0)
        #expect(stat.fileDirty == 8192)
        #expect(stat.inactiveAnon == 1_146_880)
        #expect(stat.activeAnon == 16384)
        #expect(stat.slab == 462_128)
        #expect(stat.pgfault == 2016)
        #expect(stat.pgmajfault == 3)
    }

    @Test func memoryStatOfAnOlderKernelLeavesNewLinesNil() {
        let stat = MemoryStatCounters(parsing: "anon 1\nfile 2\n")
        #expect(stat.anon == 1)
        #expect(stat.kernel == nil)
    }

    @Test func memoryEventsParse() {
        let events = MemoryEvents(parsing: "low 0\nhigh 3\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n")
        #expect(events.high == 3)
        #expect(events.max == 12)
        #expect(events.oom == 1)
        #expect(events.oomKill == 1)
        #expect(events.oomGroupKill == 0)
    }

    @Test func ioStatParsesOneEntryPerDevice() {
        let text = """
            8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0
            254:0 rbytes=4096 wbytes=0 rios=1 wios=0
            garbage line
            8:0 rbytes=x wbytes=7

            """
        let devices = IODeviceStats.parse(ioStat: text)
        #expect(devices == [
            IODeviceStats(major: 8, minor: 16, rbytes: 1_459_200, wbytes: 314_773_504, rios: 192, wios: 353, dbytes: 0, dios: 0),
            IODeviceStats(major: 254, minor: 0, rbytes: 4096, wbytes: 0, rios: 1, wios: 0),
            IODeviceStats(major: 8, minor: 0, wbytes: 7),
        ])
        #expect(IODeviceStats.parse(ioStat: "").isEmpty)
    }

    @Test func pressureParsesSomeAndFull() {
        let text = """
            some avg10=1.25 avg60=0.50 avg300=0.07 total=123456
            full avg10=0.00 avg60=0.10 avg300=0.00 total=789

            """
        let pressure = Pressure(parsing: text)
        #expect(pressure?.some == PressureLine(avg10: 1.25, avg60: 0.5, avg300: 0.07, total: 123_456))
        #expect(pressure?.full == PressureLine(avg10: 0, avg60: 0.1, avg300: 0, total: 789))
    }

    @Test func pressureWithOnlyASomeLineParses() {
        let pressure = Pressure(parsing: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
        #expect(pressure?.some?.total == 0)
        #expect(pressure?.full == nil)
    }

    @Test func unparsablePressureIsNil() {
        #expect(Pressure(parsing: "") == nil)
        #expect(Pressure(parsing: "some avg10=x avg60=0.00 avg300=0.00 total=0") == nil)
    }

    @Test func limitsParseMaxOrANumber() {
        #expect(CgroupLimit(parsing: "max\n") == .unlimited)
        #expect(CgroupLimit(parsing: "16\n") == .value(16))
        #expect(CgroupLimit(parsing: "lots") == nil)
    }
}

@Suite struct StatsReaderTests {
    @Test func statsOfAFullCgroupReadEveryFile() throws {
        let fs = try FakeCgroupfs(extra: [
            "memory.current": "1048576\n", "memory.peak": "2097152\n", "memory.max": "67108864\n",
            "memory.swap.current": "0\n", "memory.swap.max": "max\n", "memory.stat": "anon 4096\npgfault 9\n",
            "memory.events": "oom 0\noom_kill 0\nmax 2\n", "cpu.stat": "usage_usec 50\nnr_throttled 1\n",
            "pids.current": "3\n", "pids.max": "16\n", "pids.events": "max 5\n",
            "io.stat": "254:0 rbytes=512 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
            "hugetlb.2MB.current": "0\n", "hugetlb.2MB.events": "max 1\n", "hugetlb.1GB.current": "0\n",
            "hugetlb.1GB.max": "0\n", "hugetlb.2MB.rsvd.current": "0\n",
            "cpu.pressure": "some avg10=0.00 avg60=0.00 avg300=0.00 total=7\n",
            "memory.pressure": "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
        ])
        defer { fs.remove() }
        let stats = fs.cgroup.stats()
        #expect(stats.memory == MemoryStats(current: 1_048_576, peak: 2_097_152, max: .value(67_108_864), swapCurrent: 0,
                                            swapMax: .unlimited, stat: MemoryStatCounters(parsing: "anon 4096\npgfault 9\n"),
                                            events: MemoryEvents(parsing: "oom 0\noom_kill 0\nmax 2\n")))
        #expect(stats.cpu?.usageUsec == 50)
        #expect(stats.cpu?.nrThrottled == 1)
        #expect(stats.pids == PidsStats(current: 3, max: .value(16), maxEvents: 5))
        #expect(stats.io?.devices == [IODeviceStats(major: 254, minor: 0, rbytes: 512, wbytes: 0, rios: 1, wios: 0, dbytes: 0, dios: 0)])
        #expect(stats.hugetlb == [HugetlbStats(pageSize: "2MB", current: 0, max: .unlimited, maxEvents: 1),
                                  HugetlbStats(pageSize: "1GB", current: 0, max: .value(0))])
        #expect(stats.pressure?.cpu?.some?.total == 7)
        #expect(stats.pressure?.memory?.full?.total == 0)
        #expect(stats.pressure?.io == nil)
    }

    @Test func statsOfABareCgroupAreNilNotACrash() throws {
        let directory = try TemporaryDirectory("berth-cgroupfs")
        defer { directory.remove() }
        try directory.write("bare/cgroup.procs", "")
        let stats = Cgroup(root: directory.path, path: "bare").stats()
        #expect(stats == CgroupStats())
        #expect(Cgroup(root: directory.path, path: "gone").stats() == CgroupStats())
    }

    @Test func statsEncodeAsJSONWithLimitsAsMaxOrNumber() throws {
        let stats = CgroupStats(memory: MemoryStats(current: 10, max: .unlimited), pids: PidsStats(current: 1, max: .value(16)),
                                pressure: PressureStats(cpu: Pressure(some: PressureLine(avg10: 1.5, avg60: 0, avg300: 0, total: 3))))
        let json = try encodeJSON(stats)
        #expect(json == #"{"memory":{"current":10,"max":"max"},"pids":{"current":1,"max":16},"pressure":{"cpu":{"some":{"avg10":1.5,"avg60":0.0,"avg300":0.0,"total":3}}}}"#)
        #expect(try decodeJSON(CgroupStats.self, from: json) == stats)
    }
}
