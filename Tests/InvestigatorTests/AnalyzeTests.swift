import Capture
import Classifier
import ClipCamKit
import Foundation
import Testing

/// `clipcam analyze` on a video made from two fixture images: scene A 3 s, B 2 s, A 1 s at 10 frames/s.
@Suite(.serialized) struct AnalyzeTests {
    let folder: URL
    let video: String
    let frames: [Frame]
    let engine: ClipEngine
    let prompts: (a: (text: String, onA: Float, onB: Float), b: (text: String, onA: Float, onB: Float))

    init() throws {
        folder = try temporaryFolder("analyze")
        video = try Scenes.video([(Scenes.a, 3), (Scenes.b, 2), (Scenes.a, 1)], name: "aba.mkv", in: folder)
        frames = try Scenes.frames(video)
        engine = try fixtureEngine()
        prompts = try Scenes.separatingPrompts(
            engine: engine, frameA: frames[0], frameB: frames[30], candidates: Scenes.candidates)
    }

    func analyze(_ extra: [String], cache: URL, environment: [String: String] = [:]) throws -> RunResult {
        try clipcam(["analyze", video] + extra, cache: cache, environment: environment)
    }

    /// The segments of the first file's first prompt in `analyze --json` output.
    func segments(_ json: String) throws -> [(start: Double, end: Double, peak: Double)] {
        let object = try jsonObject(json)
        let files = try #require(object["files"] as? [[String: Any]])
        let prompt = try #require((files.first?["prompts"] as? [[String: Any]])?.first)
        let list = try #require(prompt["segments"] as? [[String: Any]])
        return list.map {
            (($0["start"] as? Double) ?? -1, ($0["end"] as? Double) ?? -1, ($0["peak_time"] as? Double) ?? -1)
        }
    }

    func fileField(_ json: String, _ name: String) throws -> Int {
        let files = try #require(try jsonObject(json)["files"] as? [[String: Any]])
        return try #require(files.first?[name] as? Int)
    }

    @Test func segmentsAreFoundAtTheScenesTimes() throws {
        let cache = folder.appendingPathComponent("cache-segments")
        defer { try? FileManager.default.removeItem(at: folder) }
        // A threshold halfway between the prompt's cosines with the two scenes.
        let thresholdB = (prompts.b.onA + prompts.b.onB) / 2
        let thresholdA = (prompts.a.onA + prompts.a.onB) / 2
        for (sampling, step) in [([String](), 0.1), (["--sample-fps", "2"], 0.5)] {
            let b = try analyze(
                ["--prompt", prompts.b.text, "--raw", "--threshold", "\(thresholdB)", "--json"] + sampling,
                cache: cache)
            try #require(b.status == 0, "\(b.stderr)")
            let foundB = try segments(b.stdout)
            try #require(foundB.count == 1, "B segments: \(foundB)")
            #expect(abs(foundB[0].start - 3) <= step + 1e-6 && abs(foundB[0].end - 5) <= step + 1e-6, "\(foundB)")
            #expect(foundB[0].peak >= foundB[0].start && foundB[0].peak < foundB[0].end)

            let a = try analyze(
                ["--prompt", prompts.a.text, "--raw", "--threshold", "\(thresholdA)", "--json"] + sampling,
                cache: cache)
            try #require(a.status == 0, "\(a.stderr)")
            let foundA = try segments(a.stdout)
            try #require(foundA.count == 2, "A segments: \(foundA)")
            #expect(abs(foundA[0].start - 0) <= step + 1e-6 && abs(foundA[0].end - 3) <= step + 1e-6, "\(foundA)")
            #expect(abs(foundA[1].start - 5) <= step + 1e-6 && abs(foundA[1].end - 6) <= step + 1e-6, "\(foundA)")
            // The second prompt's analysis reads the frames' embeddings from the cache.
            #expect(try fileField(a.stdout, "encoded_frames") == 0)
        }
    }

    @Test func csvValuesAreTheEnginesCosinesOfTheSameFrames() throws {
        let cache = folder.appendingPathComponent("cache-csv")
        defer { try? FileManager.default.removeItem(at: folder) }
        let csv = folder.appendingPathComponent("out.csv")
        let jsonl = folder.appendingPathComponent("out.jsonl")
        let result = try analyze(
            ["--prompt", prompts.a.text, "--prompt", prompts.b.text, "--csv", csv.path, "--jsonl", jsonl.path],
            cache: cache)
        try #require(result.status == 0, "\(result.stderr)")
        let lines = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n")
        #expect(
            lines.first.map(String.init)
                == "file,frame,time,cosine: \(prompts.a.text),percent: \(prompts.a.text),cosine: \(prompts.b.text),"
                + "percent: \(prompts.b.text)")
        try #require(lines.count == frames.count + 1, "one row per frame: \(lines.count - 1) of \(frames.count)")
        let textA = engine.embedPrompt(prompts.a.text).embedding
        let textB = engine.embedPrompt(prompts.b.text).embedding
        for (i, line) in lines.dropFirst().enumerated() {
            let fields = line.split(separator: ",").map(String.init)
            let image = normalized(engine.imageEmbedding(frames[i]))
            #expect(fields[0] == video)
            #expect(Int(fields[1]) == i)
            #expect(abs(Double(fields[2])! - Double(i) / 10) < 1e-9)
            for (column, text) in [(3, textA), (5, textB)] {
                let cosine = dot(image, text)
                let got = Float(fields[column])!
                #expect(abs(got - cosine) <= 1e-5, "frame \(i) column \(column): \(got) vs \(cosine)")
                #expect(abs(Float(fields[column + 1])! - ScoreRange.heuristic.percent(got)) <= 1e-4)
            }
        }
        let jsonLines = try String(contentsOf: jsonl, encoding: .utf8).split(separator: "\n")
        #expect(jsonLines.count == frames.count)
        let last = try jsonObject(String(jsonLines.last!))
        #expect(last["frame"] as? Int == frames.count - 1)
    }

    @Test func aSecondAnalysisEncodesNothingAndADamagedCacheFileIsRebuilt() throws {
        let cache = folder.appendingPathComponent("cache-reuse")
        defer { try? FileManager.default.removeItem(at: folder) }
        let arguments = ["--prompt", prompts.b.text, "--json", "--every", "2"]
        let first = try analyze(arguments, cache: cache)
        try #require(first.status == 0, "\(first.stderr)")
        #expect(try fileField(first.stdout, "encoded_frames") == 30)
        let second = try analyze(arguments, cache: cache)
        #expect(try fileField(second.stdout, "encoded_frames") == 0)
        #expect(try fileField(second.stdout, "cached_frames") == 30)
        #expect(
            second.stdout
                == first.stdout.replacingOccurrences(
                    of: "\"encoded_frames\":30,\"cached_frames\":0", with: "\"encoded_frames\":0,\"cached_frames\":30"))

        let files = try FileManager.default.contentsOfDirectory(atPath: cache.path).filter {
            $0.hasSuffix(".safetensors")
        }
        try #require(files.count == 1)
        let entry = cache.appendingPathComponent(files[0])
        // One flipped bit in the last embedding: the checksum catches it.
        var bytes = try Data(contentsOf: entry)
        bytes[bytes.count - 3] ^= 0x10
        try bytes.write(to: entry)
        let flipped = try analyze(arguments, cache: cache)
        try #require(flipped.status == 0, "\(flipped.stderr)")
        #expect(try fileField(flipped.stdout, "encoded_frames") == 30)
        #expect(flipped.stderr.contains("damaged"), "\(flipped.stderr)")
        #expect(flipped.stdout == first.stdout)
        // Rebuilt: whole again.
        #expect(try fileField(try analyze(arguments, cache: cache).stdout, "encoded_frames") == 0)

        // Truncated (a copy cut short, as a full disk might leave it).
        let whole = try Data(contentsOf: entry)
        try whole.prefix(whole.count / 2).write(to: entry)
        let truncated = try analyze(arguments, cache: cache)
        #expect(try fileField(truncated.stdout, "encoded_frames") == 30)
        #expect(truncated.stdout == first.stdout)
        #expect(try Data(contentsOf: entry) == whole)
    }

    @Test func anInterruptedAnalysisResumesWhereItStopped() throws {
        let cache = folder.appendingPathComponent("cache-resume")
        defer { try? FileManager.default.removeItem(at: folder) }
        let csv = folder.appendingPathComponent("resumed.csv")
        let reference = folder.appendingPathComponent("reference.csv")
        let stopped = try analyze(
            ["--prompt", prompts.b.text, "--csv", csv.path], cache: cache,
            environment: ["CLIPCAM_TEST_STOP_AFTER": "25"])
        #expect(stopped.status != 0)
        #expect(stopped.stderr.contains("25 frames are kept"), "\(stopped.stderr)")
        #expect(!FileManager.default.fileExists(atPath: csv.path), "no results file from a stopped analysis")
        let list = try runProcess(
            Repo.executable, ["cache", "list", "--json"], environment: ["CLIPCAM_CACHE": cache.path])
        #expect(list.stdout.contains("\"frames\":25,\"complete\":false"), "\(list.stdout)")

        let resumed = try analyze(["--prompt", prompts.b.text, "--csv", csv.path, "--json"], cache: cache)
        try #require(resumed.status == 0, "\(resumed.stderr)")
        #expect(try fileField(resumed.stdout, "encoded_frames") == 35)
        #expect(try fileField(resumed.stdout, "cached_frames") == 25)
        let fresh = try analyze(["--prompt", prompts.b.text, "--csv", reference.path, "--no-cache"], cache: cache)
        try #require(fresh.status == 0, "\(fresh.stderr)")
        let got = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n")
        let want = try String(contentsOf: reference, encoding: .utf8).split(separator: "\n")
        try #require(got.count == want.count)
        #expect(got.first == want.first)
        for (g, w) in zip(got.dropFirst(), want.dropFirst()) {
            let a = g.split(separator: ","), b = w.split(separator: ",")
            #expect(a[1] == b[1] && a[2] == b[2])
            #expect(abs(Float(a[3])! - Float(b[3])!) <= 1e-5, "\(g) vs \(w)")
        }
    }
}
