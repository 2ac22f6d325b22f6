import CLIPModel
import Classifier
import Foundation
import Testing

/// The reference's outputs for one fixture model (scripts/fixtures/gen_models.py).
struct Reference {
    var name: String
    var images: [String]
    var prompts: [String]
    var imageEmbeddings: [[Float]]
    var textEmbeddings: [[Float]]
    var logitScale: Float

    init(_ name: String) throws {
        self.name = name
        let listing =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: Repo.reference("\(name).json"))) as! [String: Any]
        images = listing["images"] as! [String]
        prompts = listing["prompts"] as! [String]
        let file = try SafeTensorsFile(url: Repo.reference("\(name).safetensors"))
        func rows(_ tensor: String) throws -> [[Float]] {
            let t = try file.floats(tensor)
            let values = t.values
            let width = t.shape[1]
            return (0..<t.shape[0]).map { Array(values[$0 * width..<($0 + 1) * width]) }
        }
        imageEmbeddings = try rows("image_embeds").map(Scoring.l2Normalized)
        textEmbeddings = try rows("text_embeds").map(Scoring.l2Normalized)
        logitScale = try CLIPModel(directory: Repo.model(name)).logitScale
    }

    var imagePaths: [String] { images.map { Repo.images.appendingPathComponent($0).path } }
}

let fixtureModels = ["tiny-quickgelu-f32", "tiny-gelu-f16"]

/// Largest absolute difference between two sets of vectors.
func maxDifference(_ a: [[Float]], _ b: [[Float]]) -> Float {
    zip(a, b).map { zip($0, $1).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
}

@Suite(.serialized) struct CLITests {
    /// Image file → SDL2_image decoding → preprocessing → vision transformer, against the reference's
    /// CLIPImageProcessorPil + CLIPModel on the same PNG.
    @Test(arguments: fixtureModels) func embedImageMatchesTheReference(model: String) throws {
        let ref = try Reference(model)
        let run = try clipcam(["embed-image", "--model", Repo.model(model).path] + ref.imagePaths)
        #expect(run.status == 0, "\(run.stderr)")
        let ours = try parseEmbeddings(run.stdout).map(Scoring.l2Normalized)
        #expect(ours.count == ref.images.count)
        #expect(maxDifference(ours, ref.imageEmbeddings) <= 1e-4)
        for (a, b) in zip(ours, ref.imageEmbeddings) { #expect(Scoring.dot(a, b) >= 0.99999) }

        let normalized = try parseEmbeddings(
            try clipcam(["embed-image", "--normalize", "--model", Repo.model(model).path, ref.imagePaths[0]]).stdout)
        #expect(abs(Scoring.dot(normalized[0], normalized[0]) - 1) < 1e-5)
    }

    /// Prompt text → tokenizer → text transformer, against the reference's tokenizer + CLIPModel.
    @Test(arguments: fixtureModels) func embedTextMatchesTheReference(model: String) throws {
        let ref = try Reference(model)
        let run = try clipcam(["embed-text", "--model", Repo.model(model).path] + ref.prompts)
        #expect(run.status == 0, "\(run.stderr)")
        let ours = try parseEmbeddings(run.stdout).map(Scoring.l2Normalized)
        #expect(ours.count == ref.prompts.count)
        #expect(maxDifference(ours, ref.textEmbeddings) <= 1e-4)
        // The last fixture prompt is longer than 77 tokens: it is cut, with a warning.
        #expect(run.stderr.contains("longer than CLIP's 77 tokens"))
        #expect(!run.stderr.contains("RANDOM"), "the fixture configs carry no random marker")
    }

    @Test func scoreGivesTheCosineAndTheScaledValue() throws {
        let ref = try Reference("tiny-quickgelu-f32")
        let prompt = 2
        let run = try clipcam(
            ["score", "--json", "--model", Repo.model(ref.name).path, "--prompt", ref.prompts[prompt]]
                + ref.imagePaths)
        #expect(run.status == 0, "\(run.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        let results = object["results"] as! [[String: Any]]
        #expect(results.count == ref.images.count)
        for (i, result) in results.enumerated() {
            let expected = Scoring.dot(ref.imageEmbeddings[i], ref.textEmbeddings[prompt])
            let cosine = (result["cosine"] as! NSNumber).floatValue
            let percent = (result["percent"] as! NSNumber).floatValue
            #expect(abs(cosine - expected) < 2e-4)
            #expect(abs(percent - ScoreRange.heuristic.percent(cosine)) < 1e-3)
            #expect(result["file"] as? String == ref.imagePaths[i])
        }

        // --range changes the scaling; the table form names every file.
        let table = try clipcam(
            ["score", "--range", "-1,1", "--model", Repo.model(ref.name).path, "--prompt", "stripes"]
                + ref.imagePaths)
        #expect(table.status == 0)
        for path in ref.imagePaths { #expect(table.stdout.contains(path)) }
        let bad = try clipcam(["score", "--range", "0.4,0.1", "--prompt", "x", ref.imagePaths[0]])
        #expect(bad.status != 0 && bad.stderr.contains("--range needs LOW < HIGH"))
    }

    @Test(arguments: fixtureModels) func labelPicksTheBestPromptWithSoftmaxProbabilities(model: String) throws {
        let ref = try Reference(model)
        let folder = try temporaryFolder("label")
        defer { try? FileManager.default.removeItem(at: folder) }
        let chosen = Array(0..<6)
        let promptFile = folder.appendingPathComponent("set.txt")
        try ("# a test set\n\n" + chosen.map { ref.prompts[$0] }.joined(separator: "\n") + "\n")
            .write(to: promptFile, atomically: true, encoding: .utf8)

        let run = try clipcam(
            ["label", "--json", "--model", Repo.model(model).path, "--prompts", promptFile.path] + ref.imagePaths)
        #expect(run.status == 0, "\(run.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        let results = object["results"] as! [[String: Any]]
        #expect(results.count == ref.images.count)
        for (i, result) in results.enumerated() {
            let cosines = chosen.map { Scoring.dot(ref.imageEmbeddings[i], ref.textEmbeddings[$0]) }
            let expected = Scoring.probabilities(cosines: cosines, logitScale: ref.logitScale)
            let best = expected.indices.max { expected[$0] < expected[$1] }!
            #expect(result["label"] as? String == ref.prompts[chosen[best]])
            let scores = result["scores"] as! [[String: Any]]
            for (j, score) in scores.enumerated() {
                #expect(abs((score["probability"] as! NSNumber).floatValue - expected[j]) < 5e-3)
            }
        }
    }

    /// JPEG and BMP files decode through SDL2_image like PNGs: BMP (lossless) to the same embedding, JPEG close.
    @Test func jpegAndBmpFilesAreRead() throws {
        let folder = try temporaryFolder("formats")
        defer { try? FileManager.default.removeItem(at: folder) }
        let png = Repo.images.appendingPathComponent("gradient-320x240.png").path
        let jpg = folder.appendingPathComponent("gradient.jpg").path
        let bmp = folder.appendingPathComponent("gradient.bmp").path
        for (out, format) in [(jpg, "JPG:"), (bmp, "BMP3:")] {
            let made = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["convert", png, format + out])
            try #require(made.status == 0, "ImageMagick's convert failed (scripts/setup installs it): \(made.stderr)")
        }
        let run = try clipcam([
            "embed-image", "--normalize", "--model", Repo.model("tiny-gelu-f16").path, png, bmp, jpg,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let e = try parseEmbeddings(run.stdout)
        #expect(e.count == 3)
        #expect(e[1] == e[0])
        #expect(Scoring.dot(e[2], e[0]) > 0.99)
        #expect(e[2] != e[0])
    }

    @Test func missingModelSaysHowToGetOne() throws {
        let folder = try temporaryFolder("nomodel")
        defer { try? FileManager.default.removeItem(at: folder) }
        let absent = folder.appendingPathComponent("clip-vit-base-patch32")
        // A cache of its own: the hint names a random model already in the user's cache instead of writing one.
        let run = try clipcam(
            ["embed-text", "hello"], environment: ["CLIPCAM_MODEL": absent.path, "XDG_CACHE_HOME": folder.path])
        #expect(run.status != 0)
        #expect(run.stderr.contains("no CLIP model at \(absent.path)"))
        #expect(run.stderr.contains("clipcam model fetch"))
        #expect(run.stderr.contains("clipcam model random"))

        try FileManager.default.createDirectory(at: absent, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: absent.appendingPathComponent("config.json"))
        let partial = try clipcam(["embed-text", "--model", absent.path, "hello"])
        #expect(partial.stderr.contains("lacks model.safetensors, vocab.json, merges.txt"))
    }

    @Test func badImageFileIsNamed() throws {
        let folder = try temporaryFolder("badimage")
        defer { try? FileManager.default.removeItem(at: folder) }
        let fake = folder.appendingPathComponent("notes.png")
        try Data("not an image".utf8).write(to: fake)
        let run = try clipcam(["embed-image", "--model", Repo.model("tiny-gelu-f16").path, fake.path])
        #expect(run.status != 0)
        #expect(run.stderr.contains(fake.path))
        #expect(run.stdout.isEmpty)
    }

    @Test func randomModelIsWrittenAndWarnedAbout() throws {
        let folder = try temporaryFolder("random")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("tiny")
        let vocab = Repo.fixtures.appendingPathComponent("tokens/small-vocab").path
        let made = try clipcam([
            "model", "random", "--shape", "tiny", "--seed", "7", "--out", out.path, "--vocab", vocab,
        ])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.stderr.contains("scores are meaningless"))
        let config = try String(contentsOf: out.appendingPathComponent("config.json"), encoding: .utf8)
        #expect(config.contains("clipcam_random_weights"))

        let run = try clipcam(["embed-text", "--model", out.path, "a cat", "a dog"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("RANDOM weights"))
        #expect(try parseEmbeddings(run.stdout).count == 2)

        // An existing folder is kept unless --force; with it, the same seed writes the same weights.
        let again = try clipcam([
            "model", "random", "--shape", "tiny", "--seed", "7", "--out", out.path, "--vocab", vocab,
        ])
        #expect(again.status != 0 && again.stderr.contains("--force"))
        let before = try Data(contentsOf: out.appendingPathComponent("model.safetensors"))
        let forced = try clipcam(
            ["model", "random", "--shape", "tiny", "--seed", "7", "--out", out.path, "--vocab", vocab, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try Data(contentsOf: out.appendingPathComponent("model.safetensors")) == before)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(leftovers == ["tiny"])
    }
}

@Test func benchReportsMediansAndTheRooflineAsJSON() throws {
    let run = try clipcam([
        "bench", "--model", Repo.model("tiny-quickgelu-f32").path, "--runs", "3", "--threads", "1", "--json",
        "--pipeline-frames", "0", "--startup-runs", "0",
    ])
    #expect(run.status == 0, "\(run.stderr)")
    let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    func number(_ key: String) throws -> Double { try #require((object[key] as? NSNumber)?.doubleValue, "\(key)") }
    #expect(object["threads"] as? Int == 1)
    let imageMs = try number("image_ms")
    #expect(imageMs > 0)
    #expect(abs(try number("images_per_s") - 1000 / imageMs) / (1000 / imageMs) < 0.01)
    #expect(try number("sgemm_gflops") > 0)
    #expect(try number("text_short_ms") > 0 && number("text_77_tokens_ms") > 0)
    // Skipped figures are there, as null.
    for key in ["pipeline_scored_per_s", "pipeline_frames_scored", "startup_to_first_score_s"] {
        #expect(object[key] is NSNull, "\(key): \(String(describing: object[key]))")
    }
}

/// With --precision int16 or int8, bench names the integer kernel, times fp32 in the same run and compares the
/// embeddings; CLIPCAM_INT8_KERNEL picks the kernel, and a value that names none is an error naming it.
@Test(arguments: ["int16", "int8"])
func benchComparesAnIntegerPathWithFP32(precision: String) throws {
    let arguments = [
        "bench", "--model", Repo.model("tiny-gelu-f16").path, "--runs", "3", "--threads", "2", "--json",
        "--pipeline-frames", "0", "--startup-runs", "0", "--precision", precision,
    ]
    var kernels: [String: String] = [:]
    for kernel in QuantizedKernel.allCases where kernel.isAvailable { kernels[kernel.rawValue] = kernel.rawValue }
    kernels[""] = QuantizedKernel.preferred.rawValue
    for (setting, expected) in kernels {
        let run = try clipcam(arguments, environment: ["CLIPCAM_INT8_KERNEL": setting])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
        func number(_ key: String) throws -> Double { try #require((object[key] as? NSNumber)?.doubleValue, "\(key)") }
        #expect(object["precision"] as? String == precision)
        #expect(object["integer_kernel"] as? String == expected, "CLIPCAM_INT8_KERNEL=\(setting): \(object)")
        // Why: the variable's value when forced, else the CPU's flags.
        let reason = try #require(object["integer_kernel_reason"] as? String, "\(object)")
        if !setting.isEmpty {
            #expect(reason == "forced by CLIPCAM_INT8_KERNEL=\(setting)")
        } else if QuantizedKernel.avx512vnni.isAvailable {
            #expect(reason == "the CPU lists avx512_vnni")
        } else {
            #expect(reason.hasPrefix("the CPU lacks avx512"), "\(reason)")
        }
        #expect(try number("fp32_image_encoder_ms") > 0 && number("speedup_over_fp32") > 0)
        // The fixture model's sharp attention: int8 measured 0.9983 on bench's varied frames.
        #expect(try number("min_cosine_to_fp32") >= (precision == "int16" ? 0.999_99 : 0.997))
    }
    let bad = try clipcam(arguments, environment: ["CLIPCAM_INT8_KERNEL": "avx9"])
    #expect(bad.status != 0)
    #expect(bad.stderr.contains("CLIPCAM_INT8_KERNEL=avx9 names no int8 kernel"), "\(bad.stderr)")
}

/// The pipeline figure (synthetic source → queue → encoder → offscreen window, every frame encoded) and the
/// start-up figure (a fresh `clipcam run` to its first JSON line), on a random tiny model written by --shape.
@Test func benchTimesThePipelineAndTheStartUp() throws {
    let run = try clipcam(
        ["bench", "--shape", "tiny", "--runs", "2", "--threads", "1", "--json", "--pipeline-frames", "6"],
        environment: ["CLIPCAM_VOCAB_DIR": Repo.fixtures.appendingPathComponent("tokens/small-vocab").path])
    #expect(run.status == 0, "\(run.stderr)")
    let object = try #require(
        try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
    func number(_ key: String) throws -> Double { try #require((object[key] as? NSNumber)?.doubleValue, "\(key)") }
    #expect(object["random"] as? Bool == true)
    #expect(try number("image_ms") > 0)

    #expect(try number("pipeline_source_fps") == 30)
    #expect(try number("pipeline_frames_scored") == 6)
    let captured = try number("pipeline_frames_captured")
    let dropped = try number("pipeline_frames_dropped")
    // Each scored frame was captured; the others captured meanwhile were dropped.
    #expect(dropped >= 0 && captured == 6 + dropped, "\(object)")
    let perSecond = try number("pipeline_scored_per_s")
    let msPerFrame = try number("pipeline_ms_per_scored_frame")
    #expect(perSecond > 0 && msPerFrame > 0)
    #expect(abs(perSecond * msPerFrame / 1000 - 1) < 0.01)
    #expect(try number("pipeline_encode_ms") > 0)

    #expect(try number("startup_runs") == 1)
    #expect(try number("startup_to_first_score_s") > 0)

    // The random model's temporary folder is gone afterwards.
    let written = try #require(
        run.stderr.split(separator: "\n").first { $0.hasPrefix("writing a random tiny model to ") })
    let folder = String(written.dropFirst("writing a random tiny model to ".count))
    #expect(!folder.isEmpty && !FileManager.default.fileExists(atPath: folder))
}
