import Foundation
import Testing

@testable import CLIPModel

/// The random model writer: complete, loadable, deterministic, and all-or-nothing.
@Suite struct RandomModelTests {
    /// The small vocabulary the fixture models carry.
    private let vocabulary = Fixtures.model("tiny-quickgelu-f32")

    private func leftovers(in folder: TemporaryFolder) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.url.path).sorted()
    }

    @Test func tinyModelLoadsWithTheRequestedShape() throws {
        let folder = try TemporaryFolder()
        let destination = folder.file("tiny")
        var reports: [(Int, Int)] = []
        try RandomModel.write(shape: .tiny, seed: 1, to: destination, vocabulary: vocabulary) {
            reports.append(($0, $1))
        }

        let files = try FileManager.default.contentsOfDirectory(atPath: destination.path).sorted()
        #expect(files == ["config.json", "merges.txt", "model.safetensors", "vocab.json"])
        #expect(
            try Data(contentsOf: destination.appendingPathComponent("vocab.json"))
                == Data(contentsOf: vocabulary.appendingPathComponent("vocab.json")))
        let configText = try String(contentsOf: destination.appendingPathComponent("config.json"), encoding: .utf8)
        #expect(configText.contains("\"_comment\"") && configText.contains("meaningless"))

        let model = try CLIPModel(directory: destination)
        let expected = RandomModel.configuration(
            shape: .tiny, vocabularySize: 1514, bosTokenID: 1512,
            eosTokenID: 1513)
        #expect(model.configuration == expected)
        #expect(model.configuration.isRandom)
        #expect(model.configuration.text.hiddenSize == 64 && model.configuration.vision.numHiddenLayers == 2)
        #expect(model.imageSize == 224 && model.embeddingSize == 32)

        let total =
            try FileManager.default.attributesOfItem(
                atPath: destination.appendingPathComponent("model.safetensors").path)[.size] as! Int
        #expect(reports.first?.0 ?? -1 < total)
        #expect(reports.last.map { $0 == (total, total) } == true)
        #expect(zip(reports, reports.dropFirst()).allSatisfy { $0.0 <= $1.0 && $0.1 == total })

        let pixels: [Float] = (0..<(3 * 224 * 224)).map { (index: Int) -> Float in
            Float((index * 7919) % 255) / 64 - 2
        }
        let image = model.encodeImage(pixels)
        let text = model.encodeText(ids: [1512, 320, 1125, 539, 320, 1513])
        let allFinite = image.allSatisfy { $0.isFinite } && text.allSatisfy { $0.isFinite }
        #expect(allFinite)
        let nonZero = image.contains { $0 != 0 } && text.contains { $0 != 0 }
        #expect(nonZero)
        #expect(model.logitScale == Float(log(100.0)))
    }

    @Test func sameSeedSameBytesOtherSeedOtherWeights() throws {
        let folder = try TemporaryFolder()
        for (name, seed) in [("a", UInt64(42)), ("b", 42), ("c", 43)] {
            try RandomModel.write(shape: .tiny, seed: seed, to: folder.file(name), vocabulary: vocabulary)
        }
        func weights(_ name: String) throws -> Data {
            try Data(contentsOf: folder.file(name).appendingPathComponent("model.safetensors"))
        }
        #expect(try weights("a") == weights("b"))
        #expect(try weights("a") != weights("c"))
        #expect(try weights("a").count == weights("c").count)
    }

    @Test func halfPrecisionHoldsTheRoundedValues() throws {
        let folder = try TemporaryFolder()
        try RandomModel.write(shape: .tiny, seed: 9, to: folder.file("f32"), vocabulary: vocabulary)
        try RandomModel.write(shape: .tiny, seed: 9, to: folder.file("f16"), vocabulary: vocabulary, dtype: .f16)
        let single = try SafeTensorsFile(url: folder.file("f32").appendingPathComponent("model.safetensors"))
        let half = try SafeTensorsFile(url: folder.file("f16").appendingPathComponent("model.safetensors"))
        #expect(half.tensors.values.allSatisfy { $0.dtype == .f16 })
        for name in ["vision_model.encoder.layers.1.mlp.fc1.weight", "text_model.final_layer_norm.weight"] {
            let rounded = try single.floats(name).values.map { Float(Float16($0)) }
            #expect(try half.floats(name).values == rounded)
        }
        let model = try CLIPModel(directory: folder.file("f16"))
        let finite = model.encodeText(ids: [1512, 1513]).allSatisfy { $0.isFinite }
        #expect(finite)
    }

    @Test func failureLeavesNothingBehind() throws {
        struct Stop: Error {}
        let folder = try TemporaryFolder()
        var calls = 0
        #expect(throws: Stop.self) {
            try RandomModel.write(shape: .tiny, seed: 1, to: folder.file("model"), vocabulary: vocabulary) { _, _ in
                calls += 1
                if calls == 3 { throw Stop() }
            }
        }
        #expect(calls == 3)
        #expect(try leftovers(in: folder) == [])

        let noVocabulary = folder.file("no-vocab")
        #expect {
            try RandomModel.write(shape: .tiny, seed: 1, to: folder.file("model"), vocabulary: noVocabulary)
        } throws: { error in
            guard case RandomModelError.vocabularyUnreadable(let file, _) = error else { return false }
            return file == noVocabulary.appendingPathComponent("vocab.json").path
                && "\(error)".contains("fetch-vocab")
        }
        #expect(try leftovers(in: folder) == [])
    }

    @Test func refusesToOverwriteAndRejectsNonFloatTypes() throws {
        let folder = try TemporaryFolder()
        let existing = folder.file("existing")
        try FileManager.default.createDirectory(at: existing, withIntermediateDirectories: false)
        #expect(throws: RandomModelError.destinationExists(path: existing.path)) {
            try RandomModel.write(shape: .tiny, seed: 1, to: existing, vocabulary: vocabulary)
        }
        #expect(throws: RandomModelError.unsupportedDType(.i64)) {
            try RandomModel.write(shape: .tiny, seed: 1, to: folder.file("x"), vocabulary: vocabulary, dtype: .i64)
        }
        #expect(try leftovers(in: folder) == ["existing"])
    }

    @Test func largeShapesMatchOpenAI() {
        let b32 = RandomModel.configuration(
            shape: .vitB32, vocabularySize: 49408, bosTokenID: 49406,
            eosTokenID: 49407)
        #expect(b32.vision.patchSize == 32 && b32.vision.tokenCount == 50 && b32.vision.hiddenSize == 768)
        #expect(b32.text.hiddenSize == 512 && b32.text.numHiddenLayers == 12 && b32.projectionDim == 512)
        let b16 = RandomModel.configuration(
            shape: .vitB16, vocabularySize: 49408, bosTokenID: 49406,
            eosTokenID: 49407)
        #expect(b16.vision.patchSize == 16 && b16.vision.tokenCount == 197)
        #expect(RandomModel.Shape(rawValue: "vit-b-32") == .vitB32 && RandomModel.Shape.allCases.count == 3)
    }

    @Test func normalishGeneratorHasUnitVariance() {
        var generator = SplitMix64(seed: 3, stream: 0)
        let samples = (0..<200_000).map { _ in Double(generator.nextNormalish()) }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(samples.count)
        #expect(abs(mean) < 0.01)
        #expect(abs(variance - 1) < 0.01)
        #expect(samples.allSatisfy { abs($0) <= 2 * 3.0.squareRoot() })
    }

    /// config.json as transformers 5.24 reads it: every key clipcam writes has a JSON kind transformers' typed config
    /// classes admit (Tests/Fixtures/models/transformers-clip-config-types.json, written by
    /// scripts/fixtures/gen_transformers_config_types.py), so CLIPModel.from_pretrained loads the folder unchanged.
    @Test func configMatchesTransformersTypes() throws {
        let tableURL = Fixtures.models.appendingPathComponent("transformers-clip-config-types.json")
        try #require(
            FileManager.default.fileExists(atPath: tableURL.path),
            "missing \(tableURL.path); run python3 scripts/fixtures/gen_transformers_config_types.py")
        let table = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: tableURL)) as? [String: Any])
        func kinds(_ section: String) throws -> [String: Set<String>] {
            let fields = try #require(table[section] as? [String: [String]], "no \(section) in \(tableURL.path)")
            return fields.mapValues(Set.init)
        }
        let top = try kinds("CLIPConfig")
        #expect(top["initializer_factor"] == ["float", "null"], "the table does not say what transformers 5.24 says")

        let folder = try TemporaryFolder()
        try RandomModel.write(shape: .tiny, seed: 1, to: folder.file("tiny"), vocabulary: vocabulary)
        let text = try String(contentsOf: folder.file("tiny/config.json"), encoding: .utf8)
        let written = JSONKinds.of(text)
        #expect(!written.isEmpty)
        // clipcam's own keys, which transformers keeps as plain attributes, and the older name of `dtype`, which
        // transformers 5 still reads.
        let extra: [String: String] = [
            "_comment": "string", RandomModelTests.randomMarker: "bool", "torch_dtype": "string",
        ]
        var checked = 0
        for (path, kind) in written.sorted(by: { $0.key < $1.key }) where !path.isEmpty && !path.contains("[") {
            let parts = path.split(separator: ".").map(String.init)
            let (section, key): (String, String) =
                parts.count == 1
                ? ("CLIPConfig", parts[0])
                : (parts[0] == "text_config" ? "CLIPTextConfig" : "CLIPVisionConfig", parts[1])
            if parts.count == 1 && (key == "text_config" || key == "vision_config") { continue }
            #expect(parts.count <= 2, "\(path) is nested deeper than transformers' configs")
            if let allowed = try kinds(section)[key] {
                #expect(
                    allowed.contains(kind), "\(path) is written as \(kind); transformers 5.24 takes \(allowed.sorted())"
                )
                checked += 1
            } else {
                #expect(parts.count == 1 && extra[key] == kind, "\(path) (\(kind)) is no field of \(section)")
            }
        }
        #expect(checked >= 20)
        for path in ["initializer_factor", "logit_scale_init_value", "text_config.layer_norm_eps"] {
            #expect(written[path] == "float", "\(path): \(written[path] ?? "missing")")
        }
    }

    static let randomMarker = CLIPConfiguration.randomMarkerKey
}

/// The JSON kind of every value in a JSON text, by key path ("text_config.layer_norm_eps"), as Python's json module
/// reads them: "int" for a number without '.', 'e' or 'E', "float" for one with, "string", "bool", "null",
/// "array", "object". Written independently of CLIPModel's JSON reader, so the test does not trust the code it tests.
enum JSONKinds {
    static func of(_ text: String) -> [String: String] {
        var kinds: [String: String] = [:]
        var scanner = Scanner(bytes: Array(text.utf8))
        scanner.value(path: "", into: &kinds)
        return kinds
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        mutating func skip() {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
        }

        mutating func string() -> String {
            index += 1
            var out: [UInt8] = []
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                if bytes[index] == UInt8(ascii: "\\") { index += 1 }
                out.append(bytes[index])
                index += 1
            }
            index += 1
            return String(decoding: out, as: UTF8.self)
        }

        mutating func value(path: String, into kinds: inout [String: String]) {
            skip()
            switch bytes[index] {
            case UInt8(ascii: "{"):
                kinds[path] = "object"
                index += 1
                skip()
                while bytes[index] != UInt8(ascii: "}") {
                    let key = string()
                    skip()
                    index += 1  // ':'
                    value(path: path.isEmpty ? key : path + "." + key, into: &kinds)
                    skip()
                    if bytes[index] == UInt8(ascii: ",") { index += 1 }
                    skip()
                }
                index += 1
            case UInt8(ascii: "["):
                kinds[path] = "array"
                index += 1
                skip()
                var item = 0
                while bytes[index] != UInt8(ascii: "]") {
                    value(path: path + "[\(item)]", into: &kinds)
                    item += 1
                    skip()
                    if bytes[index] == UInt8(ascii: ",") { index += 1 }
                    skip()
                }
                index += 1
            case UInt8(ascii: "\""):
                _ = string()
                kinds[path] = "string"
            case UInt8(ascii: "t"), UInt8(ascii: "f"):
                index += bytes[index] == UInt8(ascii: "t") ? 4 : 5
                kinds[path] = "bool"
            case UInt8(ascii: "n"):
                index += 4
                kinds[path] = "null"
            default:
                let start = index
                while index < bytes.count, !",]} \n\r\t".utf8.contains(bytes[index]) { index += 1 }
                let literal = bytes[start..<index]
                kinds[path] = literal.contains { ".eE".utf8.contains($0) } ? "float" : "int"
            }
        }
    }
}
