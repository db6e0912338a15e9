import BerthCore
import Glibc
import OCI
import Testing
@testable import Seccomp

@Suite struct CacheTests {
    /// A fresh directory path (not created) under /tmp, removed with its files afterwards.
    private func withCacheDirectory(_ body: (SeccompCache) throws -> Void) throws {
        let parent = try #require(makeTemporaryDirectory("/tmp/berth-seccomp-cache-"))
        let cache = SeccompCache(directory: parent + "/cache")
        defer {
            for file in files(in: cache.directory) { unlink(cache.directory + "/" + file) }
            rmdir(cache.directory)
            rmdir(parent)
        }
        try body(cache)
    }

    private func files(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    private static let profile = LinuxSeccomp(defaultAction: .errno, syscalls: [
        LinuxSyscall(names: ["read", "no_such_syscall"], action: .allow),
        LinuxSyscall(names: ["mount"], action: .errno, errnoRet: 13),
    ])

    @Test func secondCompileOfAProfileComesFromTheCacheWithItsWarnings() throws {
        try withCacheDirectory { cache in
            let first = try SeccompProgram.compile(Self.profile, kernel: .everything, cache: cache)
            let stored = files(in: cache.directory)
            #expect(stored.count == 1)
            #expect(stored.first?.hasSuffix(".bpf") == true)
            let plan = try FilterPlan(Self.profile, kernel: .everything)
            let cached = try #require(cache.load(key: plan.cacheKey))
            #expect(cached.instructions == first.instructions)
            #expect(cached.warnings == first.warnings)
            let second = try SeccompProgram.compile(Self.profile, kernel: .everything, cache: cache)
            #expect(second == first)
            #expect(second.warnings.count == 1)
        }
    }

    @Test func validationStillRunsOnACacheHit() throws {
        try withCacheDirectory { cache in
            var seccomp = Self.profile
            seccomp.flags = [.tsync]
            _ = try SeccompProgram.compile(seccomp, kernel: .everything, cache: cache)
            var noTsync = SeccompKernelSupport.everything
            noTsync.flags = []
            #expect(throws: BerthError.self) {
                try SeccompProgram.compile(seccomp, kernel: noTsync, cache: cache)
            }
        }
    }

    @Test func differentProfilesGetDifferentEntries() throws {
        try withCacheDirectory { cache in
            var other = Self.profile
            other.syscalls![1].errnoRet = 14
            let a = try SeccompProgram.compile(Self.profile, kernel: .everything, cache: cache)
            let b = try SeccompProgram.compile(other, kernel: .everything, cache: cache)
            #expect(a.instructions != b.instructions)
            #expect(files(in: cache.directory).count == 2)
            #expect(try BPFInterpreter(b).run("mount") == Ret.errno(14))
        }
    }

    @Test func anEntryForAnotherKeyUnderTheSameNameIsAMiss() throws {
        try withCacheDirectory { cache in
            let plan = try FilterPlan(Self.profile, kernel: .everything)
            let key = plan.cacheKey
            // Plant an "allow everything" program under this key's file name, stored for another key.
            mkdir(cache.directory, 0o700)
            let forged = SeccompCache.encode(key: key + [0], instructions: [BPFInstruction(code: 6, jt: 0, jf: 0, k: Ret.allow)],
                                             warnings: [])
            try write(forged, to: cache.path(for: key))
            #expect(cache.load(key: key) == nil)
            let program = try SeccompProgram.compile(Self.profile, kernel: .everything, cache: cache)
            #expect(try BPFInterpreter(program).run("mount") == Ret.errno(13))
            // The compile replaced the bad entry.
            #expect(cache.load(key: key)?.instructions == program.instructions)
        }
    }

    @Test func damagedTruncatedOrWritableEntriesAreMisses() throws {
        try withCacheDirectory { cache in
            let program = try SeccompProgram.compile(Self.profile, kernel: .everything, cache: cache)
            let key = try FilterPlan(Self.profile, kernel: .everything).cacheKey
            let path = cache.path(for: key)
            let good = SeccompCache.encode(key: key, instructions: program.instructions, warnings: program.warnings)

            var flipped = good
            flipped[good.count - 20] ^= 0x01
            try write(flipped, to: path)
            #expect(cache.load(key: key) == nil)

            try write(Array(good.dropLast(9)), to: path)
            #expect(cache.load(key: key) == nil)

            try write(good, to: path)
            #expect(cache.load(key: key) != nil)
            chmod(path, 0o666)
            #expect(cache.load(key: key) == nil)
        }
    }

    @Test func unusableDirectoryOnlyMeansNoCaching() throws {
        let cache = SeccompCache(directory: "/nonexistent/berth/seccomp")
        let program = try SeccompProgram.compile(Self.profile, kernel: .everything, cache: cache)
        #expect(try BPFInterpreter(program).run("read") == Ret.allow)
    }

    @Test func everyCommandOfAStateRootSharesOneHiddenDirectory() {
        // berth create and exec, ctr run and rollout, the supervisor: all reach it this way.
        #expect(SeccompCache(stateRoot: "/run/berth").directory == "/run/berth/.seccomp")
        #expect(SeccompCache(stateRoot: "/run/ctr/web/runtime") == SeccompCache(directory: "/run/ctr/web/runtime/.seccomp"))
    }

    private func write(_ bytes: [UInt8], to path: String) throws {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        try #require(bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count)
    }
}
