import Foundation

// Writer for the safetensors format (huggingface/safetensors, docs "Format"), streaming tensor data in order.
// Like the reference writer it pads the JSON header with spaces to a multiple of 8 bytes, so that every tensor
// whose offset is a multiple of its element size is aligned in a memory map.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Problems writing a file; each names the file.
public enum FileWriteError: Error, CustomStringConvertible, Equatable {
    case cannotCreate(file: String, reason: String)
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case .cannotCreate(let file, let reason):
            return "cannot create \(file): \(reason); check that the folder exists and is writable"
        case .writeFailed(let file, let reason):
            return "writing \(file) failed: \(reason); check the free space of its disk"
        }
    }
}

/// write(2), reachable from types that have a `write` method of their own.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// A file being written through its descriptor; closed on deinit.
final class OutputFile {
    /// The path named in errors.
    let path: String
    private let fd: Int32
    private(set) var bytesWritten = 0

    /// Creates (or truncates) `path`. Errors name the file as if it were in `shownAs` when that is given (the folder
    /// the user asked for, when `path` is in a staging folder).
    init(creating path: String, shownAs folder: URL? = nil) throws {
        self.path = folder.map { $0.appendingPathComponent(URL(fileURLWithPath: path).lastPathComponent).path } ?? path
        var fd: Int32
        repeat {
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            throw FileWriteError.cannotCreate(file: self.path, reason: String(cString: strerror(errno)))
        }
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var next = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = systemWrite(fd, next, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw FileWriteError.writeFailed(file: path, reason: String(cString: strerror(errno)))
            }
            next += written
            remaining -= written
            bytesWritten += written
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// Writes a safetensors file whose tensors are declared up front and then streamed in the declared order.
/// (Random models and the embedding cache write with it.)
public final class SafeTensorsWriter {
    public struct Declaration: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public var byteCount: Int { shape.reduce(1, *) * dtype.size }

        public init(name: String, dtype: DType, shape: [Int]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }
    }

    public let declarations: [Declaration]
    /// Size of the whole file once complete.
    public let totalBytes: Int
    private let output: OutputFile
    private var scratch: [UInt8] = []

    public var bytesWritten: Int { output.bytesWritten }

    /// Creates the file and writes its header; errors name the file as in `OutputFile(creating:shownAs:)`.
    public init(path: String, shownAs folder: URL? = nil, declarations: [Declaration], metadata: [String: String] = [:])
        throws
    {
        self.declarations = declarations
        let header = Self.header(declarations, metadata: metadata)
        totalBytes = 8 + header.count + declarations.reduce(0) { $0 + $1.byteCount }
        output = try OutputFile(creating: path, shownAs: folder)
        try output.write(withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) })
        try output.write(header)
    }

    /// The JSON header, padded with spaces to a multiple of 8 bytes (after the 8-byte length).
    static func header(_ declarations: [Declaration], metadata: [String: String]) -> [UInt8] {
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(quoted($0)):\(quoted(metadata[$0]!))" }
            fields.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for declaration in declarations {
            let shape = declaration.shape.map(String.init).joined(separator: ",")
            let end = offset + declaration.byteCount
            fields.append(
                "\(quoted(declaration.name)):{\"dtype\":\"\(declaration.dtype.rawValue)\","
                    + "\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var bytes = Array(("{" + fields.joined(separator: ",") + "}").utf8)
        while bytes.count % 8 != 0 { bytes.append(UInt8(ascii: " ")) }
        return bytes
    }

    private static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// Appends `values` converted to `dtype` (F32, F16 or BF16; round to nearest even).
    public func append(_ values: UnsafeBufferPointer<Float>, as dtype: DType) throws {
        switch dtype {
        case .f32:
            try output.write(UnsafeRawBufferPointer(values))
        case .f16, .bf16:
            scratch.removeAll(keepingCapacity: true)
            scratch.reserveCapacity(values.count * 2)
            for value in values {
                let bits = dtype == .f16 ? Float16(value).bitPattern : Self.bfloat16Bits(value)
                scratch.append(UInt8(truncatingIfNeeded: bits))
                scratch.append(UInt8(truncatingIfNeeded: bits >> 8))
            }
            try output.write(scratch)
        default:
            preconditionFailure("SafeTensorsWriter.append cannot write \(dtype.rawValue)")
        }
    }

    /// Appends raw little-endian bytes (for integer tensors).
    public func append(raw bytes: [UInt8]) throws {
        try output.write(bytes)
    }

    static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x40 }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(rounded >> 16)
    }
}
