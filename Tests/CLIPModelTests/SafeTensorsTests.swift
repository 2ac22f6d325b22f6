import Foundation
import Testing

@testable import CLIPModel

/// The safetensors reader on good files and on every kind of broken one.
@Suite struct SafeTensorsTests {
    /// Runs `open` on a file made of `bytes` and returns the error it throws (failing when it throws none).
    private func openError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws
        -> (SafeTensorsError, String)
    {
        let folder = try TemporaryFolder()
        let url = try folder.write("broken.safetensors", bytes)
        do {
            _ = try SafeTensorsFile(url: url)
        } catch let error as SafeTensorsError {
            #expect(
                error.description.contains(url.path), "message does not name the file: \(error)",
                sourceLocation: sourceLocation)
            return (error, url.path)
        }
        Issue.record("opening the file did not fail", sourceLocation: sourceLocation)
        throw CancellationError()
    }

    private func sample() -> SafeTensorsBytes {
        var file = SafeTensorsBytes()
        file.add("a", floats: [1, -2, 3.5, 0.25, 8, -0], shape: [2, 3])
        file.add("b", halfs: [0.5, -1.25, 65504], shape: [3])
        file.add("ids", int64s: [0, 1, 76], shape: [1, 3])
        return file
    }

    @Test func readsTensorsOfEveryWeightType() throws {
        var file = sample()
        // BF16 of 1.5, -3 and 0.1 (0x3DCD is 0.10009765625).
        file.entries.append(.init(name: "c", dtype: "BF16", shape: [3], data: [0xC0, 0x3F, 0x40, 0xC0, 0xCD, 0x3D]))
        let folder = try TemporaryFolder()
        let url = try folder.write("good.safetensors", file.bytes())
        let tensors = try SafeTensorsFile(url: url)

        #expect(Set(tensors.tensors.keys) == ["a", "b", "c", "ids"])
        #expect(try tensors.info("a") == TensorInfo(name: "a", dtype: .f32, shape: [2, 3], dataOffsets: 0..<24))
        #expect(try tensors.floats("a").values == [1, -2, 3.5, 0.25, 8, -0])
        #expect(try tensors.floats("a").shape == [2, 3])
        #expect(try tensors.floats("b").values == [0.5, -1.25, 65504])
        #expect(try tensors.floats("c").values == [1.5, -3, 0.10009765625])
        let ids = try tensors.info("ids")
        #expect(ids.dtype == .i64 && ids.shape == [1, 3] && ids.elementCount == 3)
        #expect(
            Array(tensors.bytes(of: ids)) == [
                0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 76, 0, 0, 0, 0, 0,
                0, 0,
            ])
        #expect(throws: SafeTensorsError.notFloat(file: url.path, tensor: "ids", dtype: .i64)) {
            try tensors.floats("ids")
        }
        #expect(throws: SafeTensorsError.missingTensor(file: url.path, tensor: "nope")) {
            try tensors.floats("nope")
        }
    }

    @Test func readsMetadataAndUnalignedFloats() throws {
        var file = SafeTensorsBytes()
        file.add("x", floats: [0.5, 1.5, -2.5], shape: [3])
        // Pad the header so that the data section starts at an odd address.
        let (header, data) = file.parts()
        let padded = "{\"__metadata__\":{\"format\":\"pt\"}," + header.dropFirst() + " "
        #expect((8 + padded.utf8.count) % 4 != 0)
        let folder = try TemporaryFolder()
        let url = try folder.write("odd.safetensors", SafeTensorsBytes.file(header: String(padded), data: data))
        let tensors = try SafeTensorsFile(url: url)
        #expect(tensors.metadata == ["format": "pt"])
        #expect(try tensors.floats("x").values == [0.5, 1.5, -2.5])
    }

    @Test func writerOutputReadsBack() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("written.safetensors").path
        let values: [Float] = [1, 2, 3, 4, 5, 6]
        let writer = try SafeTensorsWriter(
            path: path,
            declarations: [
                .init(name: "w", dtype: .f32, shape: [2, 3]), .init(name: "h", dtype: .f16, shape: [6]),
                .init(name: "b", dtype: .bf16, shape: [6]),
            ], metadata: ["format": "pt"])
        try values.withUnsafeBufferPointer { values in
            try writer.append(values, as: .f32)
            try writer.append(values, as: .f16)
            try writer.append(values, as: .bf16)
        }
        #expect(writer.bytesWritten == writer.totalBytes)
        let file = try SafeTensorsFile(url: URL(fileURLWithPath: path))
        #expect(try file.floats("w").values == values)
        #expect(try file.floats("h").values == values)
        #expect(try file.floats("b").values == values)
        #expect(file.metadata == ["format": "pt"])
    }

    @Test func missingFileAndFolder() throws {
        let folder = try TemporaryFolder()
        let missing = folder.file("absent.safetensors")
        #expect { try SafeTensorsFile(url: missing) } throws: { error in
            guard case SafeTensorsError.cannotOpen(let file, _) = error else { return false }
            return file == missing.path && "\(error)".contains(missing.path)
        }
        #expect(throws: SafeTensorsError.notARegularFile(file: folder.url.path)) {
            try SafeTensorsFile(url: folder.url)
        }
    }

    @Test func truncatedFiles() throws {
        let (empty, path) = try openError([])
        #expect(empty == .tooShort(file: path, size: 0))
        let (short, shortPath) = try openError([4, 0, 0, 0, 0])
        #expect(short == .tooShort(file: shortPath, size: 5))

        let full = sample().bytes()
        let headerLength = Int(full[0]) | Int(full[1]) << 8
        let (cut, cutPath) = try openError(Array(full.prefix(8 + headerLength - 1)))
        #expect(
            cut
                == .headerBeyondEnd(
                    file: cutPath, headerLength: UInt64(headerLength),
                    fileSize: 8 + headerLength - 1))

        // Data cut short: the last tensor (ids, 24 bytes at 30..<54) now ends beyond the data.
        let (lost, lostPath) = try openError(Array(full.dropLast(1)))
        #expect(lost == .offsetsOutOfRange(file: lostPath, tensor: "ids", begin: 30, end: 54, dataSize: 53))
        #expect(lost.description.contains("\"ids\""))
    }

    @Test func everyTruncationAndCorruptionIsAnErrorNotACrash() throws {
        let full = sample().bytes()
        let folder = try TemporaryFolder()
        for length in 0..<full.count {
            let url = try folder.write("cut\(length).safetensors", Array(full.prefix(length)))
            #expect(throws: SafeTensorsError.self, "a \(length)-byte prefix opened") {
                try SafeTensorsFile(url: url)
            }
        }
        // Every single-byte change in the header either still parses or is reported; none crashes.
        var generator = SplitMix64(seed: 7, stream: 0)
        for position in 0..<full.count {
            var bytes = full
            bytes[position] = UInt8(truncatingIfNeeded: generator.next())
            let url = try folder.write("flip.safetensors", bytes)
            do {
                let file = try SafeTensorsFile(url: url)
                for name in file.tensors.keys where file.tensors[name]!.dtype.isWeightFloat {
                    _ = try file.floats(name).values
                }
            } catch is SafeTensorsError {}
        }
    }

    @Test func headerThatIsNotJSONOrNotAnObject() throws {
        let (notJSON, path) = try openError(SafeTensorsBytes.file(header: "{\"a\": [1, 2", data: []))
        guard case .invalidHeaderJSON(let file, _) = notJSON else {
            Issue.record("expected invalidHeaderJSON, got \(notJSON)")
            return
        }
        #expect(file == path)
        let (notObject, arrayPath) = try openError(SafeTensorsBytes.file(header: "[1, 2, 3]", data: []))
        #expect(notObject == .headerNotObject(file: arrayPath))
        let (binary, binaryPath) = try openError(SafeTensorsBytes.file(header: "\u{FF}\u{FE}", data: []))
        if case .invalidHeaderJSON(let file, _) = binary {
            #expect(file == binaryPath)
        } else {
            Issue.record("expected invalidHeaderJSON, got \(binary)")
        }
    }

    @Test(arguments: [
        ("{\"t\":3}", "is not an object"),
        ("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "no \"dtype\""),
        ("{\"t\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", "\"dtype\" is 7"),
        ("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "no \"shape\""),
        ("{\"t\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", "not an array"),
        ("{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "not a size"),
        ("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", "not a size"),
        ("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", "no \"data_offsets\""),
        ("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", "not two integers"),
        ("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", "not two integers"),
        ("{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", "too large"),
        (
            "{\"__metadata__\":{\"format\":1},\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
            "not a string"
        ),
    ])
    func malformedEntries(header: String, problem: String) throws {
        let (error, path) = try openError(SafeTensorsBytes.file(header: header, data: [0, 0, 128, 63]))
        guard case .malformedEntry(let file, let tensor, let message) = error else {
            Issue.record("expected malformedEntry, got \(error)")
            return
        }
        #expect(file == path)
        #expect(tensor == (header.hasPrefix("{\"__metadata__\"") ? "__metadata__" : "t"))
        #expect(message.contains(problem), "\(message)")
        #expect(error.description.contains("\"\(tensor)\""))
    }

    @Test func unknownDType() throws {
        let header = "{\"t\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}"
        let (error, path) = try openError(SafeTensorsBytes.file(header: header, data: [0, 0, 0, 0]))
        #expect(error == .unknownDType(file: path, tensor: "t", dtype: "F33"))
        #expect(error.description.contains("F33") && error.description.contains("\"t\""))
    }

    @Test func offsetsOutsideTheData() throws {
        var file = SafeTensorsBytes()
        file.add("x", floats: [1, 2], shape: [2])
        file.entries[0].offsets = (4, 12)
        let (beyond, path) = try openError(file.bytes())
        #expect(beyond == .offsetsOutOfRange(file: path, tensor: "x", begin: 4, end: 12, dataSize: 8))

        file.entries[0].offsets = (8, 0)
        let (reversed, reversedPath) = try openError(file.bytes())
        #expect(reversed == .offsetsOutOfRange(file: reversedPath, tensor: "x", begin: 8, end: 0, dataSize: 8))

        file.entries[0].offsets = (-4, 4)
        let (negative, negativePath) = try openError(file.bytes())
        #expect(negative == .offsetsOutOfRange(file: negativePath, tensor: "x", begin: -4, end: 4, dataSize: 8))
    }

    @Test func offsetsThatDoNotMatchTheShape() throws {
        var file = SafeTensorsBytes()
        file.add("x", floats: [1, 2, 3], shape: [2, 2])
        let (error, path) = try openError(file.bytes())
        #expect(
            error
                == .sizeMismatch(
                    file: path, tensor: "x", shape: [2, 2], dtype: .f32, expectedBytes: 16,
                    actualBytes: 12))
        #expect(error.description.contains("\"x\""))
    }

    @Test func overlappingTensors() throws {
        var file = SafeTensorsBytes()
        file.add("first", floats: [1, 2, 3], shape: [3])
        file.add("second", floats: [4, 5], shape: [2])
        file.entries[1].offsets = (8, 16)
        let (error, path) = try openError(file.bytes() + [0, 0, 0, 0])
        #expect(error == .overlap(file: path, tensor: "second", other: "first"))
        #expect(error.description.contains("\"second\"") && error.description.contains("\"first\""))
    }
}
