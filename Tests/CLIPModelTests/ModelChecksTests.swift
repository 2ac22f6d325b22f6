import Foundation
import Glibc
import Testing

@testable import CLIPModel

/// Runs `body` on a thread of its own and waits at most `seconds` for it, so that a read that blocks (opening a FIFO
/// for reading waits for a writer) fails the test instead of hanging the suite. After a timeout `unblock` is run
/// to let the thread finish.
func finishes<Result: Sendable>(
    within seconds: Double, unblock: () -> Void = {}, _ body: @escaping @Sendable () -> Result
) -> Result? {
    let box = ThreadResult<Result>()
    let done = DispatchSemaphore(value: 0)
    Thread {
        box.value = body()
        done.signal()
    }.start()
    if done.wait(timeout: .now() + seconds) == .success { return box.value }
    unblock()
    _ = done.wait(timeout: .now() + 5)
    return nil
}

/// A value set by one thread and read by another after a semaphore says it is there.
final class ThreadResult<Value>: @unchecked Sendable {
    var value: Value?
}

/// Makes a FIFO at `url`; `unblockReader` lets a reader that waits on it go (opening the write end, then closing it).
func makeFIFO(_ url: URL) throws {
    try #require(mkfifo(url.path, 0o644) == 0, "mkfifo \(url.path): \(String(cString: strerror(errno)))")
}

func unblockReader(_ fifo: URL) {
    let fd = open(fifo.path, O_WRONLY | O_NONBLOCK)
    if fd >= 0 { close(fd) }
}

/// The message of the error `body` throws, or nil (recorded as an issue) when it throws none.
func errorMessage(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> String? {
    do {
        try body()
        Issue.record("no error was thrown", sourceLocation: sourceLocation)
        return nil
    } catch {
        return String(describing: error)
    }
}

/// Numbers a config.json cannot mean are errors naming the key, never JSONDecoder's type-mismatch text.
@Suite struct ConfigurationNumberTests {
    private func message(_ json: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        errorMessage(sourceLocation: sourceLocation) {
            _ = try CLIPConfiguration(json: Data(json.utf8), file: "test/config.json")
        } ?? ""
    }

    /// Foundation's JSONSerialization refuses numbers beyond a Double and NaN/Infinity (which JSON does not have):
    /// the message says so in plain words, with where, and never leaks a decoder's type names.
    @Test(arguments: [
        (#"{"logit_scale_init_value": 1e999}"#, "the number 1e999 is not finite (too large for a 64-bit float)"),
        (#"{"logit_scale_init_value": -1e999}"#, "the number -1e999 is not finite (too large for a 64-bit float)"),
        (
            #"{"vision_config": {"hidden_size": 1e999}}"#,
            "the number 1e999 is not finite (too large for a 64-bit float)"
        ),
        (#"{"logit_scale_init_value": NaN}"#, "invalid value around character 27"),
        (#"{"text_config": {"layer_norm_eps": Infinity}}"#, "invalid value around character 35"),
    ])
    func numbersThatAreNotFiniteAreNamed(json: String, reason: String) {
        let text = message(json)
        #expect(text.contains("test/config.json is not valid JSON (\(reason)); fix or replace the file"), "\(text)")
        for leak in ["Dictionary", "DecodingError", "typeMismatch", "Debug description", "Swift"] {
            #expect(!text.contains(leak), "\(text)")
        }
    }

    @Test func aNumberBeyondFloatRangeNamesTheKey() {
        let text = message(#"{"logit_scale_init_value": 1e300}"#)
        #expect(text.contains("\"logit_scale_init_value\" is 1e+300, but it must be a number a 32-bit float can hold"))
    }

    @Test func syntaxErrorsSayWhere() {
        let text = message(#"{"text_config": {"hidden_size": 12 "x": 1}}"#)
        #expect(text.contains("test/config.json is not valid JSON (") && text.contains("character"), "\(text)")
        let deep = "{\"text_config\": " + String(repeating: "[", count: 100_000) + "}"
        let nested = message(deep)
        #expect(nested.contains("is not valid JSON (too many nested arrays or dictionaries"), "\(nested)")
    }

    @Test func aConfigThatIsAFIFOFailsAtOnce() throws {
        let folder = try TemporaryFolder()
        let fifo = folder.file("config.json")
        try makeFIFO(fifo)
        let text = finishes(within: 5, unblock: { unblockReader(fifo) }) {
            do {
                _ = try CLIPConfiguration(contentsOf: fifo)
                return "loaded"
            } catch {
                return String(describing: error)
            }
        }
        #expect(
            text?.contains("cannot read CLIP configuration \(fifo.path): it is a FIFO") == true, "\(text ?? "hung")")
    }
}

/// Every size of config.json is bounded (ConfigurationLimits), so no file can make clipcam allocate without limit.
@Suite struct ConfigurationBoundsTests {
    @Test(arguments: [
        (#"{"text_config": {"num_hidden_layers": 1000000000}}"#, "text_config.num_hidden_layers", "1 and 128"),
        (#"{"text_config_dict": {"num_hidden_layers": 1e9}}"#, "text_config_dict.num_hidden_layers", "1 and 128"),
        (#"{"vision_config": {"num_hidden_layers": 129}}"#, "vision_config.num_hidden_layers", "1 and 128"),
        (#"{"text_config": {"hidden_size": 16392}}"#, "text_config.hidden_size", "1 and 16384"),
        (#"{"vision_config": {"intermediate_size": 65537}}"#, "vision_config.intermediate_size", "1 and 65536"),
        (#"{"text_config": {"vocab_size": 1000001}}"#, "text_config.vocab_size", "1 and 1000000"),
        (#"{"text_config": {"max_position_embeddings": 1}}"#, "text_config.max_position_embeddings", "2 and 4096"),
        (#"{"text_config": {"max_position_embeddings": 100000}}"#, "text_config.max_position_embeddings", "2 and 4096"),
        (#"{"vision_config": {"image_size": 4097}}"#, "vision_config.image_size", "1 and 4096"),
        (#"{"vision_config": {"patch_size": 0}}"#, "vision_config.patch_size", "1 and 224"),
        (#"{"vision_config": {"patch_size": 300}}"#, "vision_config.patch_size", "1 and 224"),
        (
            #"{"vision_config": {"image_size": 4096, "patch_size": 16}}"#, "vision_config.image_size / patch_size",
            "1 and 64"
        ),
        (#"{"vision_config": {"num_attention_heads": 0}}"#, "vision_config.num_attention_heads", "1 and 768"),
        (#"{"projection_dim": 1000000}"#, "projection_dim", "1 and 16384"),
        (#"{"text_config": {"eos_token_id": 49408}}"#, "text_config.eos_token_id", "0 and 49407"),
        (#"{"text_config": {"bos_token_id": -1}}"#, "text_config.bos_token_id", "0 and 49407"),
    ])
    func sizesOutsideTheLimitsNameTheKeyAndTheLimit(json: String, key: String, range: String) {
        let text =
            errorMessage { _ = try CLIPConfiguration(json: Data(json.utf8), file: "test/config.json") } ?? ""
        #expect(text.contains("test/config.json: \"\(key)\" is "), "\(text)")
        #expect(text.contains("but it must be between \(range)"), "\(text)")
    }

    /// The limits admit the largest released CLIPs (open_clip's ViT-bigG/14 and ViT-H/14, openai's ViT-L/14-336).
    @Test(arguments: [
        #"{"projection_dim": 768, "text_config": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12},"#
            + #" "vision_config": {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24,"#
            + #" "num_attention_heads": 16, "image_size": 336, "patch_size": 14}}"#,
        #"{"projection_dim": 1024, "text_config": {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24,"#
            + #" "num_attention_heads": 16}, "vision_config": {"hidden_size": 1280, "intermediate_size": 5120,"#
            + #" "num_hidden_layers": 32, "num_attention_heads": 16, "patch_size": 14}}"#,
        #"{"projection_dim": 1280, "text_config": {"hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32,"#
            + #" "num_attention_heads": 20}, "vision_config": {"hidden_size": 1664, "intermediate_size": 8192,"#
            + #" "num_hidden_layers": 48, "num_attention_heads": 16, "patch_size": 14}}"#,
    ])
    func realModelsAreWithinTheLimits(json: String) throws {
        let config = try CLIPConfiguration(json: Data(json.utf8), file: "test/config.json")
        #expect(config.vision.patchSize == 14)
    }
}

/// The safetensors header is bounded and checked, and a FIFO is refused at once.
@Suite struct SafeTensorsHeaderTests {
    @Test func aWeightsFileThatIsAFIFOFailsAtOnce() throws {
        let folder = try TemporaryFolder()
        let fifo = folder.file("model.safetensors")
        try makeFIFO(fifo)
        let text = finishes(within: 5, unblock: { unblockReader(fifo) }) {
            do {
                _ = try SafeTensorsFile(url: fifo)
                return "opened"
            } catch {
                return String(describing: error)
            }
        }
        #expect(text == "\(fifo.path) is not a regular file; give the path of a .safetensors file", "\(text ?? "hung")")
    }

    @Test func aHeaderLongerThanTheFormatAllowsIsRefusedUnread() throws {
        let folder = try TemporaryFolder()
        let url = folder.file("huge.safetensors")
        // A sparse 160 MB file whose first 8 bytes claim a 150 MB header.
        let claimed: UInt64 = 150_000_000
        try Data(withUnsafeBytes(of: claimed.littleEndian) { Array($0) }).write(to: url)
        try #require(truncate(url.path, 160_000_000) == 0)
        let text = errorMessage { _ = try SafeTensorsFile(url: url) } ?? ""
        #expect(
            text.contains("its header claims 150000000 bytes, more than the 100000000 bytes the format allows"),
            "\(text)")
    }

    @Test(arguments: [
        (#"{"a":{"dtype":"F32","shape":[1e999],"data_offsets":[0,4]}}"#, "the number 1e999 is not finite"),
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,1e999]}}"#, "the number 1e999 is not finite"),
        (#"{"a":{"dtype":"F32","shape":[1e300],"data_offsets":[0,4]}}"#, #""shape" [1e+300] holds 1e+300"#),
    ])
    func craftedNumbersAreNamedNotDecoderErrors(header: String, problem: String) throws {
        let folder = try TemporaryFolder()
        let url = try folder.write("crafted.safetensors", SafeTensorsBytes.file(header: header, data: [0, 0, 0, 0]))
        let text = errorMessage { _ = try SafeTensorsFile(url: url) } ?? ""
        #expect(text.contains(problem), "\(text)")
        for leak in ["Dictionary", "DecodingError", "Swift"] { #expect(!text.contains(leak), "\(text)") }
    }

    @Test func aDeeplyNestedHeaderIsAnError() throws {
        let folder = try TemporaryFolder()
        let header = "{\"a\":" + String(repeating: "[", count: 200_000) + "}"
        let url = try folder.write("nested.safetensors", SafeTensorsBytes.file(header: header, data: []))
        let text = errorMessage { _ = try SafeTensorsFile(url: url) } ?? ""
        #expect(text.contains("the safetensors header is not valid JSON (too many nested arrays"), "\(text)")
    }
}

/// config.json's sizes are compared with the weights' tensor table before anything is sized from them.
@Suite struct ConfigAgainstWeightsTests {
    /// A copy of a fixture model whose config.json went through `edit`.
    private func model(_ fixture: String = "tiny-quickgelu-f32", edit: (String) -> String) throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        for name in ["config.json", "model.safetensors", "vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(
                at: Fixtures.model(fixture).appendingPathComponent(name), to: folder.file(name))
        }
        let config = folder.file("config.json")
        try edit(try String(contentsOf: config, encoding: .utf8)).write(to: config, atomically: true, encoding: .utf8)
        return folder
    }

    @Test(arguments: [
        ("text_config", "text_model", 100, "2 text_model layers (0…1)"),
        ("vision_config", "vision_model", 1, "2 vision_model layers (0…1)"),
    ])
    func aLayerCountThatIsNotTheFilesIsNamed(section: String, tower: String, layers: Int, held: String) throws {
        let folder = try model { text in
            // Only the section's own num_hidden_layers (both towers have 2 in this fixture).
            let start = text.range(of: "\"\(section)\"")!.upperBound
            let key = text.range(of: "\"num_hidden_layers\": 2", range: start..<text.endIndex)!
            return text.replacingCharacters(in: key, with: "\"num_hidden_layers\": \(layers)")
        }
        let text = errorMessage { _ = try CLIPModel(directory: folder.url) } ?? ""
        #expect(
            text == "config.json's \(section).num_hidden_layers is \(layers), but "
                + "\(folder.file("model.safetensors").path) holds \(held); the weights and config.json do not "
                + "belong together", "\(text)")
    }

    @Test func theImageSizeIsCheckedAgainstThePositionEmbedding() throws {
        let folder = try model { $0.replacingOccurrences(of: "\"image_size\": 64", with: "\"image_size\": 4096") }
        let text = errorMessage { _ = try CLIPModel(directory: folder.url) } ?? ""
        // 4096 / 16 = 256 patches per side: refused by the limits before the file is opened.
        #expect(text.contains("\"vision_config.image_size / patch_size\" is 256, but it must be between 1 and 64"))
        let fits = try model { $0.replacingOccurrences(of: "\"image_size\": 64", with: "\"image_size\": 1024") }
        let shape = errorMessage { _ = try CLIPModel(directory: fits.url) } ?? ""
        #expect(
            shape.contains(
                "tensor \"vision_model.embeddings.position_embedding.weight\" has shape [17, 48], "
                    + "but config.json implies [4097, 48]"), "\(shape)")
    }
}

/// A weight that is NaN or infinite would make every embedding NaN (scores "nan", labels "-nan"): refused at load,
/// naming the tensor.
@Suite struct NonFiniteWeightTests {
    @Test(arguments: [
        ("vision_model.encoder.layers.1.mlp.fc2.weight", Float.nan),
        ("text_model.embeddings.token_embedding.weight", Float.infinity),
    ])
    func aNonFiniteWeightIsRefused(tensor: String, value: Float) throws {
        let folder = try TemporaryFolder()
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/models/tiny-quickgelu-f32")
        for name in ["config.json", "model.safetensors", "vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.file(name))
        }
        let weights = folder.file("model.safetensors")
        let file = try SafeTensorsFile(url: weights)
        let info = try #require(file.tensors[tensor])
        let headerLength = Int(
            try Data(contentsOf: weights).prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        // The element 5 from the end of the tensor.
        let offset = 8 + headerLength + info.dataOffsets.upperBound - 5 * 4
        var bytes = try Data(contentsOf: weights)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.replaceSubrange(offset..<offset + 4, with: $0) }
        try bytes.write(to: weights)
        let text = errorMessage { _ = try CLIPModel(directory: folder.url) } ?? ""
        #expect(text.contains("tensor \"\(tensor)\" holds \(value) (element \(info.elementCount - 5))"), "\(text)")
        #expect(text.contains("the file is damaged"), "\(text)")
    }
}
