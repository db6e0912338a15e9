import BerthCore
import Linux
import OCI

/// Block I/O, hugetlb, rdma, network and unified: the per-device and per-key parts.
extension CgroupResources {
    // MARK: block I/O

    static func blockIOWrites(_ blockIO: LinuxBlockIO) throws(BerthError) -> [CgroupWrite] {
        let path = "linux.resources.blockIO"
        if let leaf = blockIO.leafWeight, leaf != 0 {
            throw BerthError(.invalidConfig, "\(path).leafWeight: not supported on cgroup v2, which has no leaf weights (processes live only in leaf cgroups)")
        }
        var writes: [CgroupWrite] = []
        if let weight = blockIO.weight, weight != 0 {
            try checkWeight(weight, "\(path).weight")
            writes.append(CgroupWrite("io.weight", "default \(ioWeight(blkioWeight: weight))", field: "\(path).weight",
                                      fallback: .init(file: "io.bfq.weight", value: String(weight))))
        }
        for (index, device) in (blockIO.weightDevice ?? []).enumerated() {
            let field = "\(path).weightDevice[\(index)]"
            let id = try deviceNumber(device.major, device.minor, field)
            if let leaf = device.leafWeight, leaf != 0 {
                throw BerthError(.invalidConfig, "\(field).leafWeight: not supported on cgroup v2, which has no leaf weights")
            }
            guard let weight = device.weight, weight != 0 else { continue }
            try checkWeight(weight, "\(field).weight")
            writes.append(CgroupWrite("io.weight", "\(id) \(ioWeight(blkioWeight: weight))", field: "\(field).weight",
                                      fallback: .init(file: "io.bfq.weight", value: "\(id) \(weight)")))
        }
        writes += try ioMaxWrites(blockIO)
        return writes
    }

    static func checkWeight(_ weight: UInt16, _ field: String) throws(BerthError) {
        guard (10...1000).contains(weight) else {
            throw BerthError(.invalidConfig, "\(field): \(weight) is outside the blkio weight range 10-1000")
        }
    }

    static func deviceNumber(_ major: Int64, _ minor: Int64, _ field: String) throws(BerthError) -> String {
        // Linux dev_t: 12-bit major, 20-bit minor.
        guard (0..<(1 << 12)).contains(major), (0..<(1 << 20)).contains(minor) else {
            throw BerthError(.invalidConfig, "\(field): \(major):\(minor) is not a device number")
        }
        return "\(major):\(minor)"
    }

    /// The four throttle lists merged into one io.max line per device, in the order devices
    /// first appear: `MAJ:MIN rbps=N wbps=N riops=N wiops=N`, keys only for the limits given,
    /// rate 0 → `max` (no limit). A device listed twice in one list: the last entry wins.
    static func ioMaxWrites(_ blockIO: LinuxBlockIO) throws(BerthError) -> [CgroupWrite] {
        let lists: [(name: String, key: String, devices: [LinuxThrottleDevice]?)] = [
            ("throttleReadBpsDevice", "rbps", blockIO.throttleReadBpsDevice),
            ("throttleWriteBpsDevice", "wbps", blockIO.throttleWriteBpsDevice),
            ("throttleReadIOPSDevice", "riops", blockIO.throttleReadIOPSDevice),
            ("throttleWriteIOPSDevice", "wiops", blockIO.throttleWriteIOPSDevice),
        ]
        var order: [String] = []
        var fields: [String: String] = [:]
        var limits: [String: [String: String]] = [:]
        for list in lists {
            for (index, device) in (list.devices ?? []).enumerated() {
                let field = "linux.resources.blockIO.\(list.name)[\(index)]"
                let id = try deviceNumber(device.major, device.minor, field)
                if limits[id] == nil { order.append(id); fields[id] = field }
                limits[id, default: [:]][list.key] = device.rate == 0 ? "max" : String(device.rate)
            }
        }
        return order.map { id in
            let keys = lists.compactMap { list in limits[id]?[list.key].map { "\(list.key)=\($0)" } }
            return CgroupWrite("io.max", ([id] + keys).joined(separator: " "), field: fields[id] ?? "linux.resources.blockIO")
        }
    }

    // MARK: hugetlb

    static func hugetlbWrites(_ limits: [LinuxHugepageLimit]) throws(BerthError) -> [CgroupWrite] {
        var writes: [CgroupWrite] = []
        for (index, limit) in limits.enumerated() {
            let field = "linux.resources.hugepageLimits[\(index)]"
            guard isValidPageSize(limit.pageSize) else {
                throw BerthError(.invalidConfig, "\(field).pageSize: \"\(limit.pageSize)\" is not a page size such as 2MB or 1GB")
            }
            writes.append(CgroupWrite("hugetlb.\(limit.pageSize).max", String(limit.limit), field: "\(field).limit"))
        }
        return writes
    }

    // MARK: network and rdma

    static func checkNetwork(_ network: LinuxNetwork) throws(BerthError) {
        if network.classID != nil {
            throw BerthError(.invalidConfig, "linux.resources.network.classID: not supported on cgroup v2 (net_cls is a cgroup v1 controller; match the cgroup path in nftables or eBPF instead)")
        }
        if let priorities = network.priorities, !priorities.isEmpty {
            throw BerthError(.invalidConfig, "linux.resources.network.priorities: not supported on cgroup v2 (net_prio is a cgroup v1 controller)")
        }
    }

    /// rdma.max, one line a device: `mlx4_0 hca_handle=2 hca_object=2000`, devices by name.
    static func rdmaWrites(_ rdma: [String: LinuxRdma]) throws(BerthError) -> [CgroupWrite] {
        var writes: [CgroupWrite] = []
        for name in rdma.keys.sorted() {
            let field = "linux.resources.rdma[\"\(name)\"]"
            guard !name.isEmpty, !name.contains(where: { $0.isWhitespace || $0 == "/" }) else {
                throw BerthError(.invalidConfig, "\(field): \"\(name)\" is not an RDMA device name")
            }
            let limit = rdma[name]!
            var keys: [String] = []
            if let handles = limit.hcaHandles { keys.append("hca_handle=\(handles)") }
            if let objects = limit.hcaObjects { keys.append("hca_object=\(objects)") }
            if keys.isEmpty { continue }
            writes.append(CgroupWrite("rdma.max", ([name] + keys).joined(separator: " "), field: field))
        }
        return writes
    }

    // MARK: unified

    /// Core files the runtime itself manages: writing them from config.json would move
    /// processes, kill them or change the cgroup's shape under Berth.
    public static let reservedUnifiedKeys: Set<String> = [
        "cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.kill", "cgroup.freeze", "cgroup.type",
    ]

    /// Checks a `unified` key: one file name inside the cgroup, no path. Whether the file
    /// exists is checked at apply time, against the real cgroup.
    public static func checkUnifiedKey(_ key: String) throws(BerthError) {
        let field = "\(unifiedField)[\"\(key)\"]"
        if key.isEmpty || key == "." || key == ".." || key.contains("/") {
            throw BerthError(.invalidConfig, "\(field): a unified key must be a file name in the cgroup, not a path")
        }
        if key.contains(where: { $0.isWhitespace || $0 == "\0" }) {
            throw BerthError(.invalidConfig, "\(field): a unified key may not contain whitespace or NUL")
        }
        if reservedUnifiedKeys.contains(key) {
            throw BerthError(.invalidConfig, "\(field): \(key) is managed by the runtime and cannot be set from config.json")
        }
    }

    static func unifiedWrites(_ unified: [String: String]) throws(BerthError) -> [CgroupWrite] {
        var writes: [CgroupWrite] = []
        for key in unified.keys.sorted() {
            try checkUnifiedKey(key)
            writes.append(CgroupWrite(key, unified[key]!, field: "\(unifiedField)[\"\(key)\"]"))
        }
        return writes
    }
}
