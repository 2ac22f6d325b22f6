import Foundation
import SafeFiles

// Reader for the safetensors format (huggingface/safetensors, docs "Format"): an 8-byte little-endian header
// length, a JSON header `{name: {dtype, shape, data_offsets}, "__metadata__": {...}}`, then the raw tensor data.
// The file is memory-mapped and fully verified on open; holes between tensors are allowed (the reference
// rejects them), overlaps are not. Only a regular file is opened (a FIFO or device is refused at once, never waited
// on), and the header may hold at most `maximumHeaderBytes`, the reference's own limit.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The element types of the safetensors format.
public enum DType: String, Sendable, CaseIterable {
    case bool = "BOOL"
    case u8 = "U8", i8 = "I8", u16 = "U16", i16 = "I16", u32 = "U32", i32 = "I32", u64 = "U64", i64 = "I64"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
    case f16 = "F16", bf16 = "BF16", f32 = "F32", f64 = "F64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .u8, .i8, .f8e4m3, .f8e5m2: return 1
        case .u16, .i16, .f16, .bf16: return 2
        case .u32, .i32, .f32: return 4
        case .u64, .i64, .f64: return 8
        }
    }

    /// Whether clipcam reads this type as model weights (converted to `Float` where needed).
    public var isWeightFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }
}

/// One tensor's entry in the header.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range relative to the start of the data section.
    public let dataOffsets: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// Everything that can be wrong with a safetensors file; each case names the file and, where there is one, the
/// tensor.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(file: String, reason: String)
    case notARegularFile(file: String)
    case tooShort(file: String, size: Int)
    case headerBeyondEnd(file: String, headerLength: UInt64, fileSize: Int)
    case headerTooLarge(file: String, headerLength: UInt64, limit: Int)
    case invalidHeaderJSON(file: String, reason: String)
    case headerNotObject(file: String)
    case malformedEntry(file: String, tensor: String, problem: String)
    case unknownDType(file: String, tensor: String, dtype: String)
    case offsetsOutOfRange(file: String, tensor: String, begin: Int, end: Int, dataSize: Int)
    case sizeMismatch(file: String, tensor: String, shape: [Int], dtype: DType, expectedBytes: Int, actualBytes: Int)
    case overlap(file: String, tensor: String, other: String)
    case missingTensor(file: String, tensor: String)
    case notFloat(file: String, tensor: String, dtype: DType)

    public var description: String {
        switch self {
        case .cannotOpen(let file, let reason):
            return "cannot open safetensors file \(file): \(reason); check the path and its permissions"
        case .notARegularFile(let file):
            return "\(file) is not a regular file; give the path of a .safetensors file"
        case .tooShort(let file, let size):
            return "\(file) is truncated: \(size) bytes, shorter than the 8-byte header length; "
                + "download or write it again"
        case .headerBeyondEnd(let file, let headerLength, let fileSize):
            return "\(file) is truncated or not safetensors: its header claims \(headerLength) bytes but only "
                + "\(max(fileSize - 8, 0)) follow the 8-byte length (the file is \(fileSize) bytes); download or write "
                + "it again"
        case .headerTooLarge(let file, let headerLength, let limit):
            return "\(file) is not a usable safetensors file: its header claims \(headerLength) bytes, more than the "
                + "\(limit) bytes the format allows; the file is damaged"
        case .invalidHeaderJSON(let file, let reason):
            return "\(file): the safetensors header is not valid JSON (\(reason)); the file is damaged"
        case .headerNotObject(let file):
            return "\(file): the safetensors header is not a JSON object of tensors; the file is damaged"
        case .malformedEntry(let file, let tensor, let problem):
            return "\(file): header entry for tensor \"\(tensor)\" is malformed: \(problem)"
        case .unknownDType(let file, let tensor, let dtype):
            return "\(file): tensor \"\(tensor)\" has unknown dtype \"\(dtype)\" (known: "
                + DType.allCases.map(\.rawValue).joined(separator: ", ") + ")"
        case .offsetsOutOfRange(let file, let tensor, let begin, let end, let dataSize):
            return "\(file): tensor \"\(tensor)\" has data_offsets [\(begin), \(end)] outside the \(dataSize)-byte "
                + "data section; the file is truncated or damaged"
        case .sizeMismatch(let file, let tensor, let shape, let dtype, let expectedBytes, let actualBytes):
            return "\(file): tensor \"\(tensor)\" of shape \(shape) and dtype \(dtype.rawValue) needs "
                + "\(expectedBytes) bytes but its data_offsets span \(actualBytes); the file is damaged"
        case .overlap(let file, let tensor, let other):
            return "\(file): the data of tensor \"\(tensor)\" overlaps that of \"\(other)\"; the file is damaged"
        case .missingTensor(let file, let tensor):
            return "\(file) holds no tensor \"\(tensor)\""
        case .notFloat(let file, let tensor, let dtype):
            return "\(file): tensor \"\(tensor)\" has dtype \(dtype.rawValue), but a floating-point tensor "
                + "(F32, F16 or BF16) is needed"
        }
    }
}

/// A memory-mapped, verified safetensors file. Tensors are read through `info(_:)`, `bytes(of:)` and `floats(_:)`.
public final class SafeTensorsFile {
    public let url: URL
    /// Every tensor of the header, by name.
    public let tensors: [String: TensorInfo]
    /// The optional `__metadata__` strings.
    public let metadata: [String: String]

    private let base: UnsafeRawPointer
    private let mappedSize: Int
    private let dataStart: Int

    /// The largest header accepted, in bytes (the reference reader's limit, 100 MB); a ViT-B/32 header is 24 KB.
    public static let maximumHeaderBytes = 100_000_000

    /// Opens, maps and verifies `url`. Throws `SafeTensorsError` naming the file (and the tensor at fault).
    public init(url: URL) throws {
        let file = url.path
        let opened: ReadableFile
        do {
            opened = try ReadableFile(file, role: "model.safetensors")
        } catch FileAccessError.notRegularFile {
            throw SafeTensorsError.notARegularFile(file: file)
        } catch let error as FileAccessError {
            throw SafeTensorsError.cannotOpen(file: file, reason: error.reason)
        }
        let fd = opened.descriptor
        let size = opened.size
        guard size >= 8 else { throw SafeTensorsError.tooShort(file: file, size: size) }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0),
            mapped != UnsafeMutableRawPointer(bitPattern: -1)
        else {
            if errno == ENOMEM {
                throw SafeTensorsError.cannotOpen(
                    file: file, reason: "not enough address space to map its \(size) bytes (is ulimit -v set?)")
            }
            throw SafeTensorsError.cannotOpen(file: file, reason: "mmap: " + String(cString: strerror(errno)))
        }
        let base = UnsafeRawPointer(mapped)
        do {
            let headerLength = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
            guard headerLength <= UInt64(Self.maximumHeaderBytes) else {
                throw SafeTensorsError.headerTooLarge(
                    file: file, headerLength: headerLength, limit: Self.maximumHeaderBytes)
            }
            guard headerLength <= UInt64(size - 8) else {
                throw SafeTensorsError.headerBeyondEnd(file: file, headerLength: headerLength, fileSize: size)
            }
            let dataStart = 8 + Int(headerLength)
            let header = UnsafeRawBufferPointer(start: base + 8, count: Int(headerLength))
            (tensors, metadata) = try Self.parseHeader(header, file: file, dataSize: size - dataStart)
            self.url = url
            self.base = base
            self.mappedSize = size
            self.dataStart = dataStart
        } catch {
            munmap(mapped, size)
            throw error
        }
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), mappedSize)
    }

    /// Drops this process's resident copies of the file's pages (they stay in the page cache). Tensors read
    /// afterwards are faulted in again on first use; nothing read through this file changes.
    public func releaseResidentPages() {
        _ = madvise(UnsafeMutableRawPointer(mutating: base), mappedSize, MADV_DONTNEED)
    }

    /// The header entry of `name`.
    public func info(_ name: String) throws -> TensorInfo {
        guard let info = tensors[name] else { throw SafeTensorsError.missingTensor(file: url.path, tensor: name) }
        return info
    }

    /// The raw little-endian bytes of a tensor, valid while this file is alive.
    public func bytes(of info: TensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + dataStart + info.dataOffsets.lowerBound, count: info.dataOffsets.count)
    }

    /// The tensor `name` as `Float`s: F32 data is used in place when it is 4-byte aligned (copied otherwise);
    /// F16 and BF16 are converted. Other dtypes are rejected.
    public func floats(_ name: String) throws -> FloatTensor {
        let info = try info(name)
        guard info.dtype.isWeightFloat else {
            throw SafeTensorsError.notFloat(file: url.path, tensor: name, dtype: info.dtype)
        }
        let raw = bytes(of: info)
        if info.dtype == .f32, let start = raw.baseAddress,
            Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0
        {
            return FloatTensor(
                name: name, shape: info.shape, mapped: start.assumingMemoryBound(to: Float.self),
                owner: self)
        }
        let tensor = FloatTensor(name: name, shape: info.shape)
        Self.convert(raw, dtype: info.dtype, into: tensor.mutablePointer)
        return tensor
    }

    /// Converts `raw` (F32, F16 or BF16, little-endian) into `Float`s at `output`.
    static func convert(_ raw: UnsafeRawBufferPointer, dtype: DType, into output: UnsafeMutablePointer<Float>) {
        let count = raw.count / dtype.size
        switch dtype {
        case .f32:
            for i in 0..<count {
                output[i] = Float(
                    bitPattern: UInt32(
                        littleEndian: raw.loadUnaligned(
                            fromByteOffset: 4 * i,
                            as: UInt32.self)))
            }
        case .f16:
            for i in 0..<count {
                let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                output[i] = Float(Float16(bitPattern: bits))
            }
        case .bf16:
            for i in 0..<count {
                let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                output[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        default:
            preconditionFailure("convert called with non-float dtype \(dtype)")
        }
    }

    private static func parseHeader(_ header: UnsafeRawBufferPointer, file: String, dataSize: Int) throws
        -> ([String: TensorInfo], [String: String])
    {
        let json: JSONValue
        do {
            json = try JSONValue.parse(header)
        } catch {
            throw SafeTensorsError.invalidHeaderJSON(file: file, reason: String(describing: error))
        }
        guard let entries = json.objectValue else { throw SafeTensorsError.headerNotObject(file: file) }

        var metadata: [String: String] = [:]
        var tensors: [String: TensorInfo] = [:]
        for (name, entry) in entries {
            if name == "__metadata__" {
                guard let fields = entry.objectValue else {
                    throw SafeTensorsError.malformedEntry(file: file, tensor: name, problem: "not an object")
                }
                for (key, value) in fields {
                    guard let text = value.stringValue else {
                        throw SafeTensorsError.malformedEntry(
                            file: file, tensor: name, problem: "value of \"\(key)\" is \(value.summary), not a string")
                    }
                    metadata[key] = text
                }
                continue
            }
            tensors[name] = try parseEntry(entry, name: name, file: file, dataSize: dataSize)
        }

        // Zero-sized tensors occupy no bytes and cannot overlap anything.
        let placed = tensors.values.filter { !$0.dataOffsets.isEmpty }.sorted {
            ($0.dataOffsets.lowerBound, $0.name) < ($1.dataOffsets.lowerBound, $1.name)
        }
        for (previous, next) in zip(placed, placed.dropFirst())
        where next.dataOffsets.lowerBound < previous.dataOffsets.upperBound {
            throw SafeTensorsError.overlap(file: file, tensor: next.name, other: previous.name)
        }
        return (tensors, metadata)
    }

    private static func parseEntry(_ entry: JSONValue, name: String, file: String, dataSize: Int) throws
        -> TensorInfo
    {
        func malformed(_ problem: String) -> SafeTensorsError {
            .malformedEntry(file: file, tensor: name, problem: problem)
        }
        guard let fields = entry.objectValue else { throw malformed("\(entry.summary) is not an object") }
        guard let dtypeValue = fields["dtype"] else { throw malformed("no \"dtype\"") }
        guard let dtypeName = dtypeValue.stringValue else {
            throw malformed("\"dtype\" is \(dtypeValue.summary), not a string")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw SafeTensorsError.unknownDType(file: file, tensor: name, dtype: dtypeName)
        }
        guard let shapeValue = fields["shape"] else { throw malformed("no \"shape\"") }
        guard let shapeItems = shapeValue.arrayValue else {
            throw malformed("\"shape\" is \(shapeValue.summary), not an array")
        }
        var shape: [Int] = []
        var elementCount = 1
        for item in shapeItems {
            guard let dimension = item.intValue, dimension >= 0 else {
                throw malformed("\"shape\" \(shapeValue.summary) holds \(item.summary), not a size ≥ 0")
            }
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw malformed("\"shape\" \(shapeValue.summary) is too large") }
            shape.append(dimension)
            elementCount = product
        }
        guard let offsetsValue = fields["data_offsets"] else { throw malformed("no \"data_offsets\"") }
        guard let offsets = offsetsValue.arrayValue, offsets.count == 2,
            let begin = offsets[0].intValue, let end = offsets[1].intValue
        else {
            throw malformed("\"data_offsets\" is \(offsetsValue.summary), not two integers [begin, end]")
        }
        guard begin >= 0, begin <= end, end <= dataSize else {
            throw SafeTensorsError.offsetsOutOfRange(
                file: file, tensor: name, begin: begin, end: end,
                dataSize: dataSize)
        }
        let (expectedBytes, overflow) = elementCount.multipliedReportingOverflow(by: dtype.size)
        guard !overflow, expectedBytes == end - begin else {
            throw SafeTensorsError.sizeMismatch(
                file: file, tensor: name, shape: shape, dtype: dtype,
                expectedBytes: overflow ? Int.max : expectedBytes,
                actualBytes: end - begin)
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }
}

/// A tensor of `Float`s, either borrowed from a mapped file (kept alive by this object) or owned.
public final class FloatTensor {
    public let name: String
    public let shape: [Int]
    public let count: Int
    public let pointer: UnsafePointer<Float>
    private let owned: UnsafeMutablePointer<Float>?
    private let owner: AnyObject?

    /// A view into memory that `owner` keeps alive.
    init(name: String, shape: [Int], mapped: UnsafePointer<Float>, owner: AnyObject) {
        self.name = name
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.pointer = mapped
        self.owned = nil
        self.owner = owner
    }

    /// A zero-filled tensor that owns its memory.
    init(name: String, shape: [Int]) {
        let count = shape.reduce(1, *)
        let memory = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        memory.initialize(repeating: 0, count: max(count, 1))
        self.name = name
        self.shape = shape
        self.count = count
        self.pointer = UnsafePointer(memory)
        self.owned = memory
        self.owner = nil
    }

    deinit {
        owned?.deallocate()
    }

    /// Writable access; only for tensors created with `init(name:shape:)`.
    var mutablePointer: UnsafeMutablePointer<Float> {
        guard let owned else { preconditionFailure("tensor \(name) is a read-only view of a mapped file") }
        return owned
    }

    /// A copy of the values (for tests and small tensors).
    public var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
