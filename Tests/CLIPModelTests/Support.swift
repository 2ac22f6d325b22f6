import Foundation
import Testing

@testable import CLIPModel

/// Paths of the committed fixtures (written by scripts/fixtures/gen_models.py).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let models = root.appendingPathComponent("models")
    static let reference = root.appendingPathComponent("reference")
    static let modelNames = ["tiny-quickgelu-f32", "tiny-gelu-f16"]

    static func model(_ name: String) -> URL { models.appendingPathComponent(name) }

    /// Fails with what to run when a fixture is missing.
    static func require(_ url: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try #require(
            FileManager.default.fileExists(atPath: url.path),
            "missing fixture \(url.path); run `python3 scripts/fixtures/gen_models.py`",
            sourceLocation: sourceLocation)
    }
}

/// The largest |a[i] − b[i]|.
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "lengths differ: \(a.count) vs \(b.count)")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// True when every |a[i] − b[i]| ≤ atol + rtol·|b[i]|.
func isClose(_ a: [Float], _ b: [Float], rtol: Float = 0, atol: Float) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= atol + rtol * abs($1) }
}

func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, aa = 0.0, bb = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * Double(y)
        aa += Double(x) * Double(x)
        bb += Double(y) * Double(y)
    }
    return dot / (aa.squareRoot() * bb.squareRoot())
}

/// A fresh temporary folder, removed by `cleanUp`.
final class TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }
}

/// Builds safetensors bytes by hand, so that tests can also build broken files.
struct SafeTensorsBytes {
    struct Entry {
        var name: String
        var dtype: String
        var shape: [Int]
        var data: [UInt8]
        /// Overrides the computed offsets when set.
        var offsets: (Int, Int)? = nil
    }

    var entries: [Entry] = []

    mutating func add(_ name: String, floats: [Float], shape: [Int]) {
        let data = floats.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
        entries.append(Entry(name: name, dtype: "F32", shape: shape, data: data))
    }

    mutating func add(_ name: String, int64s: [Int64], shape: [Int]) {
        let data = int64s.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        entries.append(Entry(name: name, dtype: "I64", shape: shape, data: data))
    }

    mutating func add(_ name: String, halfs: [Float], shape: [Int]) {
        let data = halfs.flatMap { value in
            withUnsafeBytes(of: Float16(value).bitPattern.littleEndian) { Array($0) }
        }
        entries.append(Entry(name: name, dtype: "F16", shape: shape, data: data))
    }

    /// The header JSON text (entries in order) and the data section.
    func parts() -> (header: String, data: [UInt8]) {
        var fields: [String] = []
        var data: [UInt8] = []
        for entry in entries {
            let begin = data.count
            data += entry.data
            let (start, end) = entry.offsets ?? (begin, data.count)
            let shape = entry.shape.map(String.init).joined(separator: ",")
            fields.append(
                "\"\(entry.name)\":{\"dtype\":\"\(entry.dtype)\",\"shape\":[\(shape)],"
                    + "\"data_offsets\":[\(start),\(end)]}")
        }
        return ("{" + fields.joined(separator: ",") + "}", data)
    }

    /// A complete file: length, header, data.
    func bytes() -> [UInt8] {
        let (header, data) = parts()
        return Self.file(header: header, data: data)
    }

    static func file(header: String, data: [UInt8], claimedLength: UInt64? = nil) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        let length = claimedLength ?? UInt64(headerBytes.count)
        return withUnsafeBytes(of: length.littleEndian) { Array($0) } + headerBytes + data
    }
}

extension TemporaryFolder {
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let url = file(name)
        try Data(bytes).write(to: url)
        return url
    }
}

/// The reference tensors of one fixture model.
struct Reference {
    let imageNames: [String]
    let prompts: [String]
    let pixelValues: [[Float]]  // N × (3·S·S)
    let imageEmbeds: [[Float]]  // N × D
    let inputIDs: [[Int32]]  // P × 77
    let textEmbeds: [[Float]]  // P × D

    init(model name: String) throws {
        let tensorsURL = Fixtures.reference.appendingPathComponent(name + ".safetensors")
        let listingURL = Fixtures.reference.appendingPathComponent(name + ".json")
        try Fixtures.require(tensorsURL)
        try Fixtures.require(listingURL)
        let listing = try JSONSerialization.jsonObject(with: Data(contentsOf: listingURL)) as? [String: Any]
        imageNames = listing?["images"] as? [String] ?? []
        prompts = listing?["prompts"] as? [String] ?? []

        let file = try SafeTensorsFile(url: tensorsURL)
        func rows(_ name: String) throws -> [[Float]] {
            let tensor = try file.floats(name)
            let width = tensor.count / tensor.shape[0]
            let values = tensor.values
            return (0..<tensor.shape[0]).map { Array(values[($0 * width)..<(($0 + 1) * width)]) }
        }
        pixelValues = try rows("pixel_values")
        imageEmbeds = try rows("image_embeds")
        textEmbeds = try rows("text_embeds")
        let ids = try file.info("input_ids")
        let raw = file.bytes(of: ids)
        let all = (0..<ids.elementCount).map {
            Int32(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)))
        }
        inputIDs = (0..<ids.shape[0]).map { Array(all[($0 * ids.shape[1])..<(($0 + 1) * ids.shape[1])]) }
    }
}

/// Runs `linear`'s product of `rows` rows of `x` on `pool` into `y` (row stride: the layer's outputs), as the
/// encoders do; an int16 layer reads the rows already quantised into `quantized`, an int8 layer those in `bytes`.
func runProduct(
    _ x: [Float], rows: Int, lda: Int, _ linear: BlockLinear, into y: inout [Float], accumulate: Bool = false,
    activation: Activation? = nil, quantized: QuantizedRows? = nil, bytes: ByteRows? = nil, pool: WorkerPool
) {
    y.withUnsafeMutableBufferPointer { buffer in
        let output = ProductOutput(
            pointer: buffer.baseAddress!, stride: linear.outputs, accumulate: accumulate, activation: activation)
        let task = ProductTask()
        task.set(
            x, rows: rows, lda: lda, linear, panels: 0..<linear.panels, output: output, quantized: quantized,
            bytes: bytes, pool: pool)
        pool.run(task)
    }
}
