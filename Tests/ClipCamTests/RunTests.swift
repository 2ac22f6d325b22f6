import ClipCamKit
import Foundation
import Testing

/// `clipcam run` end to end: headless JSONL, the window through SDL's offscreen driver, the simulated camera.
@Suite struct RunTests {
    private let model = Repo.model("tiny-quickgelu-f32").path
    /// For the tiny random fixture model these two prompts separate the checker image (phone) from the gradient
    /// (apple) by more than 0.15 in cosine, every frame of the H.264 video below (found by scoring the
    /// everyday-objects set on both scenes).
    private let promptA = "a photo of a mobile phone"
    private let promptB = "a photo of an apple"

    private func twoPromptFile(in folder: URL) throws -> String {
        let file = folder.appendingPathComponent("two.txt")
        try "# one per scene\n\(promptA)\n\(promptB)\n".write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    /// Every precision gives the expected label on every frame, so the integer paths agree with fp32 throughout.
    @Test(arguments: ["fp32", "int16", "int8"])
    func labelsSwitchWhenTheSceneChanges(precision: String) throws {
        let folder = try temporaryFolder("switch-\(precision)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = try twoSceneVideo(
            first: Repo.images.appendingPathComponent("checker-224x224.png").path,
            second: Repo.images.appendingPathComponent("gradient-320x240.png").path, in: folder)
        let result = try clipcam([
            "run", "--model", model, "--prompts", try twoPromptFile(in: folder), "--source", video.path,
            "--headless", "--jsonl", "-", "--precision", precision,
        ])
        #expect(result.status == 0, "clipcam run failed: \(result.stderr)")
        let lines = try jsonLines(result.stdout)
        // At the video's own 10 fps the encoder keeps up; a busy machine may drop a few frames, no more.
        #expect(lines.count >= 30, "only \(lines.count) of 40 frames encoded:\n\(result.stderr)")
        var previous = -1
        for line in lines {
            let frame = try #require(line["frame"] as? Int)
            #expect(frame > previous, "frames out of order")
            previous = frame
            let expected = frame < 20 ? promptA : promptB
            #expect(line["label"] as? String == expected, "frame \(frame) labelled \(line["label"] ?? "nil")")
            let timestamp = try #require(line["timestamp"] as? Double)
            #expect(abs(timestamp - Double(frame) / 10) < 1e-9, "frame \(frame) at \(timestamp) s")
            let scores = try #require(line["scores"] as? [[String: Any]])
            #expect(scores.map { $0["prompt"] as? String } == [promptA, promptB])
            let probabilities = scores.compactMap { ($0["probability"] as? NSNumber)?.doubleValue }
            #expect(abs(probabilities.reduce(0, +) - 1) < 1e-5)
        }
        // The first frame labelled B is the first frame of scene B, or the next one encoded after a drop.
        let switchFrame = try #require(lines.first { $0["label"] as? String == promptB }?["frame"] as? Int)
        let dropped = (lines.last?["dropped"] as? Int) ?? 0
        #expect((20...20 + dropped).contains(switchFrame), "switched at \(switchFrame) with \(dropped) dropped")
    }

    @Test func fastVideoDropsFramesTheEncoderCannotTakeAndCountsThem() throws {
        let folder = try temporaryFolder("fast")
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = try twoSceneVideo(
            first: Repo.images.appendingPathComponent("checker-224x224.png").path,
            second: Repo.images.appendingPathComponent("gradient-320x240.png").path, in: folder)
        let csv = folder.appendingPathComponent("scores.csv")
        let result = try clipcam([
            "run", "--model", model, "--prompts", try twoPromptFile(in: folder), "--source", video.path, "--fast",
            "--no-reuse", "--headless", "--jsonl", "-", "--csv", csv.path,
        ])
        #expect(result.status == 0, "clipcam run failed: \(result.stderr)")
        let lines = try jsonLines(result.stdout)
        let dropped = try #require(lines.last?["dropped"] as? Int)
        // Every frame is either encoded or counted as dropped.
        #expect(lines.count + dropped == 40, "\(lines.count) encoded + \(dropped) dropped")
        #expect(result.stderr.contains("40 frames captured, \(lines.count) encoded, \(dropped) dropped"))
        let rows = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == lines.count + 1)
        #expect(
            rows.first?.hasPrefix("frame,timestamp,label,flagged,encode_ms,dropped,reused,cosine: \(promptA),") == true)
        for (row, line) in zip(rows.dropFirst(), lines) {
            let fields = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(fields.count == 7 + 2 * 3)
            #expect(fields[6] == "0")
            #expect(Int(fields[0]) == line["frame"] as? Int)
            #expect(fields[2] == line["label"] as? String)
        }
    }

    @Test func thresholdFlagsAndSmoothingAveragesAcrossFrames() throws {
        let folder = try temporaryFolder("smooth")
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = try twoSceneVideo(
            first: Repo.images.appendingPathComponent("checker-224x224.png").path,
            second: Repo.images.appendingPathComponent("gradient-320x240.png").path, in: folder)
        // --range puts the cosines of the tiny model (about -0.6…0.3) inside 0–100 %; the apple prompt scores about
        // 54 % on the first scene and 48 % on the second, so a threshold of 51 flags the first scene only.
        let common = [
            "run", "--model", model, "--prompt", promptB, "--source", video.path, "--headless", "--jsonl", "-",
            "--range=-1,1",
        ]
        let raw = try clipcam(common)
        let smoothed = try clipcam(common + ["--smooth", "3", "--threshold", "51"])
        #expect(raw.status == 0 && smoothed.status == 0, "\(raw.stderr)\n\(smoothed.stderr)")
        func cosines(_ lines: [[String: Any]]) -> [Int: Double] {
            var byFrame: [Int: Double] = [:]
            for line in lines {
                let scores = line["scores"] as? [[String: Any]]
                byFrame[line["frame"] as! Int] = (scores?.first?["cosine"] as? NSNumber)?.doubleValue
            }
            return byFrame
        }
        let rawLines = try jsonLines(raw.stdout)
        let smoothLines = try jsonLines(smoothed.stdout)
        let before = cosines(rawLines)
        let after = cosines(smoothLines)
        // When the last three encoded frames are consecutive, the smoothed cosine is their mean.
        let encoded = smoothLines.compactMap { $0["frame"] as? Int }
        var checked = 0
        for (position, frame) in encoded.enumerated() where position >= 2 {
            guard encoded[position - 2] == frame - 2, let a = before[frame - 2], let b = before[frame - 1],
                let c = before[frame], let mean = after[frame]
            else { continue }
            #expect(abs(mean - (a + b + c) / 3) < 1e-5, "frame \(frame)")
            checked += 1
        }
        #expect(checked >= 20, "too few runs of consecutive frames to check smoothing")
        for line in smoothLines {
            let percent = try #require((line["percent"] as? NSNumber)?.doubleValue)
            #expect(line["flagged"] as? Bool == (percent >= 51), "frame \(line["frame"]!): \(percent) %")
        }
        let flags = smoothLines.map { (frame: $0["frame"] as? Int ?? -1, flagged: $0["flagged"] as? Bool) }
        #expect(flags.filter { $0.frame <= 15 }.allSatisfy { $0.flagged == true })
        #expect(flags.filter { $0.frame >= 25 }.allSatisfy { $0.flagged == false })
    }

    @Test func ctrlCEndsTheRunCleanlyWithCompleteLines() throws {
        let folder = try temporaryFolder("sigint")
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out.jsonl")
        let process = Process()
        process.executableURL = Repo.executable
        process.arguments = [
            "run", "--model", model, "--prompt", promptA, "--source", "synthetic:160x120@30", "--headless",
            "--jsonl", output.path,
        ]
        let errURL = folder.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let err = try FileHandle(forWritingTo: errURL)
        process.standardError = err
        try process.run()
        // Wait for the first results, then interrupt.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, ((try? Data(contentsOf: output))?.count ?? 0) == 0 { usleep(50_000) }
        usleep(300_000)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        try err.close()
        let message = try String(contentsOf: errURL, encoding: .utf8)
        // 128 + SIGINT, as shells expect of a program Ctrl-C ended.
        #expect(process.terminationReason == .exit && process.terminationStatus == 130, "\(message)")
        #expect(message.contains("(stopped by Interrupt)"), "\(message)")
        let text = try String(contentsOf: output, encoding: .utf8)
        #expect(text.hasSuffix("\n"), "the last line was cut")
        let lines = try jsonLines(text)
        #expect(lines.count >= 2)
        let frames = lines.compactMap { $0["frame"] as? Int }
        #expect(frames.count == lines.count && zip(frames, frames.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test func screenshotShowsTheBestLabelInTheWindow() throws {
        let folder = try temporaryFolder("window")
        defer { try? FileManager.default.removeItem(at: folder) }
        let prompts = try twoPromptFile(in: folder)
        for (image, expected) in [("checker-224x224.png", promptA), ("gradient-320x240.png", promptB)] {
            let png = folder.appendingPathComponent("window-\(image)")
            let result = try clipcam(
                [
                    "run", "--model", model, "--prompts", prompts, "--source",
                    Repo.images.appendingPathComponent(image).path, "--screenshot", png.path, "--window-size",
                    "640x360", "--range=-1,1", "--jsonl", "-",
                ], environment: ["SDL_VIDEODRIVER": "offscreen"])
            #expect(result.status == 0, "clipcam run failed: \(result.stderr)")
            #expect(result.stderr.contains("screenshot \(png.path): bestLabel=\"\(expected)\""), "\(result.stderr)")
            #expect(try jsonLines(result.stdout).last?["label"] as? String == expected)
            let saved = try ScreenshotPixels(path: png.path)
            #expect(saved.width == 640 && saved.height == 360)
            // The best row's bar is drawn in the highlight green (40, 210, 110): a bar of at least 10x10 pixels (in a
            // column beside the video the bars are short).
            #expect(saved.count(red: 40, green: 210, blue: 110) > 100, "no highlighted bar in \(png.path)")
        }
    }

    @Test func singlePromptWindowMarksTheThreshold() throws {
        let folder = try temporaryFolder("single")
        defer { try? FileManager.default.removeItem(at: folder) }
        let png = folder.appendingPathComponent("single.png")
        let result = try clipcam(
            [
                "run", "--model", model, "--prompt", promptB, "--source",
                Repo.images.appendingPathComponent("gradient-320x240.png").path, "--screenshot", png.path,
                "--range=-1,1", "--threshold", "10", "--jsonl", "-",
            ], environment: ["SDL_VIDEODRIVER": "offscreen"])
        #expect(result.status == 0, "clipcam run failed: \(result.stderr)")
        let line = try #require(try jsonLines(result.stdout).last)
        let percent = try #require((line["percent"] as? NSNumber)?.doubleValue)
        #expect(line["flagged"] as? Bool == true)
        let shown = "\(Int(percent.rounded())) %"
        #expect(result.stderr.contains("prompt=\"\(promptB)\" percent=\"\(shown)\""), "\(result.stderr)")
    }
}
