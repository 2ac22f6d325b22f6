// A hash table from token bytes to ids for loading the vocabulary: open addressing over one flat byte buffer with
// FNV-1a hashing, and lookups of two concatenated byte ranges without copying them. Loading the 49 408-token vocabulary
// and its 48 894 merges takes about 150 000 lookups, which [[UInt8]: Int32] makes several times slower.

struct TokenTable {
    private var bytes: [UInt8] = []
    /// Entry i's key spans bytes[starts[i]..<starts[i + 1]].
    private var starts: [Int] = [0]
    private var values: [Int32] = []
    /// 0 for an empty slot, otherwise an entry index + 1.
    private var slots: [Int32]
    private let mask: Int

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: 0, count: size)
        mask = size - 1
        bytes.reserveCapacity(capacity * 8)
        starts.reserveCapacity(capacity + 1)
        values.reserveCapacity(capacity)
    }

    var count: Int { values.count }

    private static func hash(_ first: UnsafeBufferPointer<UInt8>, _ second: UnsafeBufferPointer<UInt8>) -> Int {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in first { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        for byte in second { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }

    private func keyEquals(
        _ entry: Int, _ first: UnsafeBufferPointer<UInt8>, _ second: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        let start = starts[entry]
        guard starts[entry + 1] - start == first.count + second.count else { return false }
        var position = start
        for byte in first {
            if bytes[position] != byte { return false }
            position += 1
        }
        for byte in second {
            if bytes[position] != byte { return false }
            position += 1
        }
        return true
    }

    /// The slot holding the key `first + second`, or the empty slot where it would go.
    private func slot(_ first: UnsafeBufferPointer<UInt8>, _ second: UnsafeBufferPointer<UInt8>) -> Int {
        var slot = Self.hash(first, second) & mask
        while slots[slot] != 0 && !keyEquals(Int(slots[slot]) - 1, first, second) {
            slot = (slot + 1) & mask
        }
        return slot
    }

    /// Adds `key`; returns false (and changes nothing) when it is already present.
    mutating func insert(_ key: [UInt8], value: Int32) -> Bool {
        precondition(count * 2 < slots.count, "TokenTable is full")
        let slot = key.withUnsafeBufferPointer { self.slot($0, UnsafeBufferPointer<UInt8>(start: nil, count: 0)) }
        guard slots[slot] == 0 else { return false }
        bytes.append(contentsOf: key)
        starts.append(bytes.count)
        values.append(value)
        slots[slot] = Int32(values.count)
        return true
    }

    /// The value of the key made of `first` followed by `second`.
    func value(_ first: UnsafeBufferPointer<UInt8>, _ second: UnsafeBufferPointer<UInt8>) -> Int32? {
        let entry = slots[slot(first, second)]
        return entry == 0 ? nil : values[Int(entry) - 1]
    }

    func value(_ key: [UInt8]) -> Int32? {
        key.withUnsafeBufferPointer { value($0, UnsafeBufferPointer<UInt8>(start: nil, count: 0)) }
    }
}
