import Cgroup2
import Linux
import OCI
import Testing

@Suite struct BlockIOMappingTests {
    @Test(arguments: [(UInt16(10), UInt64(1)), (1000, 10_000), (500, 4950), (100, 910)])
    func blkioWeightConvertsToIoWeight(blkio: UInt16, io: UInt64) {
        #expect(CgroupResources.ioWeight(blkioWeight: blkio) == io)
    }

    @Test func weightWritesIoWeightDefaultWithBfqFallback() throws {
        let write = try #require(plan(LinuxResources(blockIO: LinuxBlockIO(weight: 500))).writes.first)
        #expect(write.file == "io.weight")
        #expect(write.value == "default 4950")
        #expect(write.fallback == CgroupWrite.Fallback(file: "io.bfq.weight", value: "500"))
        #expect(write.controller == "io")
    }

    @Test func weightOutsideTheBlkioRangeIsRefused() {
        #expect(planError(LinuxResources(blockIO: LinuxBlockIO(weight: 5)))
            == "linux.resources.blockIO.weight: 5 is outside the blkio weight range 10-1000")
        #expect(planError(LinuxResources(blockIO: LinuxBlockIO(weight: 1001)))
            == "linux.resources.blockIO.weight: 1001 is outside the blkio weight range 10-1000")
    }

    @Test func weightZeroIsUnset() throws {
        #expect(try writeList(LinuxResources(blockIO: LinuxBlockIO(weight: 0))) == [])
    }

    @Test func leafWeightIsRefused() {
        #expect(planError(LinuxResources(blockIO: LinuxBlockIO(leafWeight: 300)))
            == "linux.resources.blockIO.leafWeight: not supported on cgroup v2, which has no leaf weights (processes live only in leaf cgroups)")
        #expect(planError(LinuxResources(blockIO: LinuxBlockIO(weightDevice: [LinuxWeightDevice(major: 8, minor: 0, leafWeight: 300)])))
            == "linux.resources.blockIO.weightDevice[0].leafWeight: not supported on cgroup v2, which has no leaf weights")
    }

    @Test func weightDeviceWritesOneIoWeightLineEach() throws {
        let blockIO = LinuxBlockIO(weightDevice: [LinuxWeightDevice(major: 8, minor: 0, weight: 100),
                                                  LinuxWeightDevice(major: 8, minor: 16),
                                                  LinuxWeightDevice(major: 254, minor: 0, weight: 1000)])
        let writes = try plan(LinuxResources(blockIO: blockIO)).writes
        #expect(writes.map(\.value) == ["8:0 910", "254:0 10000"])
        #expect(writes.map(\.fallback?.value) == ["8:0 100", "254:0 1000"])
        #expect(writes.map(\.field) == ["linux.resources.blockIO.weightDevice[0].weight", "linux.resources.blockIO.weightDevice[2].weight"])
    }

    @Test func weightDeviceOutOfRangeIsRefused() {
        #expect(planError(LinuxResources(blockIO: LinuxBlockIO(weightDevice: [LinuxWeightDevice(major: 8, minor: 0, weight: 2)])))
            == "linux.resources.blockIO.weightDevice[0].weight: 2 is outside the blkio weight range 10-1000")
    }

    @Test func throttlesMergeIntoOneIoMaxLinePerDevice() throws {
        let blockIO = LinuxBlockIO(
            throttleReadBpsDevice: [LinuxThrottleDevice(major: 8, minor: 0, rate: 1_048_576)],
            throttleWriteBpsDevice: [LinuxThrottleDevice(major: 8, minor: 16, rate: 2_097_152),
                                     LinuxThrottleDevice(major: 8, minor: 0, rate: 4096)],
            throttleReadIOPSDevice: [LinuxThrottleDevice(major: 8, minor: 16, rate: 100)],
            throttleWriteIOPSDevice: [LinuxThrottleDevice(major: 8, minor: 0, rate: 50)])
        #expect(try writeList(LinuxResources(blockIO: blockIO))
            == ["io.max=8:0 rbps=1048576 wbps=4096 wiops=50", "io.max=8:16 wbps=2097152 riops=100"])
    }

    @Test func throttleKeysFollowAFixedOrderWhateverListComesFirst() throws {
        let blockIO = LinuxBlockIO(throttleReadBpsDevice: [LinuxThrottleDevice(major: 254, minor: 0, rate: 7)],
                                   throttleWriteIOPSDevice: [LinuxThrottleDevice(major: 1, minor: 2, rate: 9),
                                                             LinuxThrottleDevice(major: 254, minor: 0, rate: 3)])
        #expect(try plan(LinuxResources(blockIO: blockIO)).values(of: "io.max") == ["254:0 rbps=7 wiops=3", "1:2 wiops=9"])
    }

    @Test func throttleRateZeroWritesMax() throws {
        let blockIO = LinuxBlockIO(throttleReadIOPSDevice: [LinuxThrottleDevice(major: 8, minor: 0, rate: 0)])
        #expect(try writeList(LinuxResources(blockIO: blockIO)) == ["io.max=8:0 riops=max"])
    }

    @Test func aDeviceListedTwiceInOneThrottleListKeepsTheLastRate() throws {
        let blockIO = LinuxBlockIO(throttleWriteBpsDevice: [LinuxThrottleDevice(major: 8, minor: 0, rate: 1),
                                                            LinuxThrottleDevice(major: 8, minor: 0, rate: 2)])
        #expect(try writeList(LinuxResources(blockIO: blockIO)) == ["io.max=8:0 wbps=2"])
    }

    @Test func throttleErrorsNameTheListAndIndex() throws {
        let blockIO = LinuxBlockIO(throttleWriteIOPSDevice: [LinuxThrottleDevice(major: 8, minor: 0, rate: 1),
                                                             LinuxThrottleDevice(major: -1, minor: 0, rate: 1)])
        #expect(planError(LinuxResources(blockIO: blockIO))
            == "linux.resources.blockIO.throttleWriteIOPSDevice[1]: -1:0 is not a device number")
        let field = try plan(LinuxResources(blockIO: LinuxBlockIO(throttleReadIOPSDevice: [LinuxThrottleDevice(major: 8, minor: 0, rate: 1)])))
            .writes.first?.field
        #expect(field == "linux.resources.blockIO.throttleReadIOPSDevice[0]")
    }

    @Test func deviceNumbersBeyondDevTIsRefused() {
        #expect(planError(LinuxResources(blockIO: LinuxBlockIO(weightDevice: [LinuxWeightDevice(major: 4096, minor: 0, weight: 10)])))
            == "linux.resources.blockIO.weightDevice[0]: 4096:0 is not a device number")
    }
}

@Suite struct HugetlbNetworkRdmaMappingTests {
    @Test func hugepageLimitsWriteHugetlbMaxPerPageSize() throws {
        let limits = [LinuxHugepageLimit(pageSize: "2MB", limit: 4 << 20), LinuxHugepageLimit(pageSize: "1GB", limit: 0)]
        let planned = try plan(LinuxResources(hugepageLimits: limits))
        #expect(planned.writes.map { "\($0.file)=\($0.value)" } == ["hugetlb.2MB.max=4194304", "hugetlb.1GB.max=0"])
        #expect(planned.controllers == ["hugetlb"])
    }

    @Test func malformedPageSizeIsRefused() {
        #expect(planError(LinuxResources(hugepageLimits: [LinuxHugepageLimit(pageSize: "2M", limit: 1)]))
            == "linux.resources.hugepageLimits[0].pageSize: \"2M\" is not a page size such as 2MB or 1GB")
    }

    @Test(arguments: [("2MB", true), ("1GB", true), ("64KB", true), ("16GB", true),
                      ("2M", false), ("MB", false), ("02MB", false), ("2mb", false), ("2 MB", false), ("2MB/x", false), ("", false)])
    func pageSizeSyntax(size: String, valid: Bool) {
        #expect(CgroupResources.isValidPageSize(size) == valid)
    }

    @Test func netClsClassIDIsRefused() {
        #expect(planError(LinuxResources(network: LinuxNetwork(classID: 0x100001)))?
            .hasPrefix("linux.resources.network.classID: not supported on cgroup v2") == true)
    }

    @Test func netPrioPrioritiesAreRefused() throws {
        #expect(planError(LinuxResources(network: LinuxNetwork(priorities: [LinuxInterfacePriority(name: "eth0", priority: 5)])))
            == "linux.resources.network.priorities: not supported on cgroup v2 (net_prio is a cgroup v1 controller)")
        #expect(try writeList(LinuxResources(network: LinuxNetwork(priorities: []))) == [])
    }

    @Test func rdmaLimitsWriteRdmaMaxPerDevice() throws {
        let rdma = ["mlx5_1": LinuxRdma(hcaObjects: 1000), "mlx4_0": LinuxRdma(hcaHandles: 2, hcaObjects: 2000), "idle": LinuxRdma()]
        let planned = try plan(LinuxResources(rdma: rdma))
        #expect(planned.values(of: "rdma.max") == ["mlx4_0 hca_handle=2 hca_object=2000", "mlx5_1 hca_object=1000"])
        #expect(planned.controllers == ["rdma"])
    }

    @Test func rdmaDeviceNameWithSpaceIsRefused() {
        #expect(planError(LinuxResources(rdma: ["a b": LinuxRdma(hcaHandles: 1)]))
            == "linux.resources.rdma[\"a b\"]: \"a b\" is not an RDMA device name")
    }

    @Test func devicesBecomeAProgramNotWrites() throws {
        let devices = [LinuxDeviceCgroup(allow: false, access: "rwm"), LinuxDeviceCgroup(allow: true, type: .char, major: 1, minor: 3, access: "rw")]
        let planned = try plan(LinuxResources(devices: devices))
        #expect(planned.writes.isEmpty)
        #expect(planned.controllers.isEmpty)
        #expect(planned.devices?.rules.count == 2 + DeviceRule.defaults.count)
    }

    @Test func emptyResourcesPlanNoWritesAndTheDefaultDevices() throws {
        let planned = try plan(LinuxResources())
        #expect(planned.writes.isEmpty && !planned.checkMemoryBeforeUpdate)
        #expect(planned.devices?.rules == DeviceRule.defaults)
    }
}

@Suite struct UnifiedMappingTests {
    @Test func unifiedEntriesAreWrittenLastInKeyOrder() throws {
        let resources = LinuxResources(pids: LinuxPids(limit: 5), unified: ["memory.high": "400M", "cgroup.max.depth": "3"])
        let planned = try plan(resources)
        #expect(planned.writes.map { "\($0.file)=\($0.value)" } == ["pids.max=5", "cgroup.max.depth=3", "memory.high=400M"])
        #expect(planned.writes.last?.field == "linux.resources.unified[\"memory.high\"]")
        #expect(planned.controllers == ["memory", "pids"])
    }

    @Test func unifiedKeyAlsoSetByATypedFieldWins() throws {
        let resources = LinuxResources(memory: LinuxMemory(limit: 1 << 20), unified: ["memory.max": "2097152"])
        #expect(try writeList(resources) == ["memory.max=2097152"])
    }

    @Test func unifiedIoWeightReplacesTheTypedWeightAndItsFallback() throws {
        let resources = LinuxResources(blockIO: LinuxBlockIO(weight: 500), unified: ["io.bfq.weight": "50"])
        #expect(try writeList(resources) == ["io.bfq.weight=50"])
    }

    @Test(arguments: ["", ".", "..", "../memory.max", "a/b", "/memory.max"])
    func unifiedKeyThatIsAPathIsRefused(key: String) {
        #expect(planError(LinuxResources(unified: [key: "1"]))
            == "linux.resources.unified[\"\(key)\"]: a unified key must be a file name in the cgroup, not a path")
    }

    @Test func unifiedKeyWithWhitespaceIsRefused() {
        #expect(planError(LinuxResources(unified: ["memory.max ": "1"]))
            == "linux.resources.unified[\"memory.max \"]: a unified key may not contain whitespace or NUL")
    }

    @Test(arguments: ["cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.kill", "cgroup.freeze", "cgroup.type"])
    func unifiedKeyManagedByTheRuntimeIsRefused(key: String) {
        #expect(planError(LinuxResources(unified: [key: "1"]))
            == "linux.resources.unified[\"\(key)\"]: \(key) is managed by the runtime and cannot be set from config.json")
    }

    @Test func controllerOfAFileIsItsKnownPrefix() {
        #expect(CgroupResources.controller(ofFile: "memory.swap.max") == "memory")
        #expect(CgroupResources.controller(ofFile: "cpuset.cpus") == "cpuset")
        #expect(CgroupResources.controller(ofFile: "io.bfq.weight") == "io")
        #expect(CgroupResources.controller(ofFile: "cgroup.max.depth") == nil)
        #expect(CgroupResources.controller(ofFile: "foo.bar") == nil)
        #expect(CgroupResources.controller(ofFile: "memory") == nil)
    }
}
