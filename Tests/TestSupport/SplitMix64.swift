/// Deterministic PRNG (Steele, Lea & Flood's SplitMix64) for the fuzz tests, so that any
/// failure reproduces from its seed.
public struct SplitMix64 {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform enough in `0..<bound` for fuzzing; 0 when `bound` is 0.
    public mutating func next(below bound: UInt64) -> UInt64 {
        bound == 0 ? 0 : next() % bound
    }

    public mutating func index(_ count: Int) -> Int { Int(next(below: UInt64(max(count, 0)))) }
    public mutating func pick<T>(_ values: [T]) -> T { values[index(values.count)] }
    public mutating func chance(_ oneIn: Int) -> Bool { index(oneIn) == 0 }
}
