import Cgroup2
import Linux
import OCI

/// The plan for `resources`, for tests that expect it to be valid.
func plan(_ resources: LinuxResources) throws -> CgroupResourcePlan {
    try CgroupResources.plan(for: resources)
}

/// The description of the error planning `resources` throws, or nil when it succeeds.
func planError(_ resources: LinuxResources) -> String? {
    do {
        _ = try CgroupResources.plan(for: resources)
        return nil
    } catch {
        return error.description
    }
}

/// The plan's writes as `file=value` strings, in order: compact to compare.
func writeList(_ resources: LinuxResources) throws -> [String] {
    try plan(resources).writes.map { "\($0.file)=\($0.value)" }
}
