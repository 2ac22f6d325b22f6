import Capture
import ClipCamKit
import Foundation
import Testing

/// Frame signatures, and `clipcam run` scoring unchanged frames with the last encoded embedding.
@Suite struct FrameSignatureTests {
    private func image(_ name: String) throws -> Frame {
        try ImageFile.load(Repo.images.appendingPathComponent(name).path)
    }

    private func uniform(width: Int, height: Int, blue: UInt8, green: UInt8, red: UInt8) -> Frame {
        var bgr = [UInt8](repeating: 0, count: width * height * 3)
        for i in stride(from: 0, to: bgr.count, by: 3) {
            bgr[i] = blue
            bgr[i + 1] = green
            bgr[i + 2] = red
        }
        return Frame(index: 0, timestamp: 0, width: width, height: height, bgr: bgr)
    }

    @Test func boxesHoldTheFixedPointGreyMean() {
        // (29·10 + 150·20 + 77·30) >> 8 = 5600 >> 8 = 21.
        let signature = FrameSignature(uniform(width: 640, height: 480, blue: 10, green: 20, red: 30))
        #expect(signature.cells.count == 32 * 24)
        #expect(signature.cells.allSatisfy { $0 == 21 })
        // Left half white (the weights sum to 256: white stays 255), right half black; 20 px per box.
        var frame = uniform(width: 640, height: 480, blue: 0, green: 0, red: 0)
        for y in 0..<480 {
            for x in 0..<320 { for c in 0..<3 { frame.bgr[(y * 640 + x) * 3 + c] = 255 } }
        }
        let half = FrameSignature(frame)
        for row in 0..<24 {
            #expect(half.cells[row * 32..<row * 32 + 16].allSatisfy { $0 == 255 }, "row \(row)")
            #expect(half.cells[row * 32 + 16..<row * 32 + 32].allSatisfy { $0 == 0 }, "row \(row)")
        }
        let black = FrameSignature(uniform(width: 640, height: 480, blue: 0, green: 0, red: 0))
        #expect(half.difference(black) == 255.0 / 2)
    }

    @Test func identicalFramesDifferByZero() throws {
        for name in ["gradient-320x240.png", "checker-224x224.png", "stripes-97x151.png", "tiny-20x30.png"] {
            let frame = try image(name)
            var later = frame
            later.index = 7
            later.timestamp = 0.25
            let a = FrameSignature(frame)
            #expect(a.cells.count == 32 * 24, "\(name)")
            #expect(a.difference(FrameSignature(later)) == 0, "\(name)")
        }
    }

    @Test func framesOfDifferentSizesNeverMatch() throws {
        let a = FrameSignature(uniform(width: 64, height: 48, blue: 9, green: 9, red: 9))
        let b = FrameSignature(uniform(width: 64, height: 40, blue: 9, green: 9, red: 9))
        #expect(a.difference(b) == .infinity)
    }

    @Test func sensorNoiseStaysBelowTheDefaultThreshold() throws {
        let frame = try image("gradient-320x240.png")
        var noisy = frame
        // Deterministic noise of up to ±12 levels on every channel (a linear congruential sequence).
        var state: UInt32 = 12345
        for i in noisy.bgr.indices {
            state = state &* 1_664_525 &+ 1_013_904_223
            let delta = Int(state >> 24) % 25 - 12
            noisy.bgr[i] = UInt8(clamping: Int(noisy.bgr[i]) + delta)
        }
        let difference = FrameSignature(frame).difference(FrameSignature(noisy))
        #expect(difference > 0 && difference < FrameSignature.defaultThreshold, "noise: \(difference)")
    }

    @Test func jpegCompressionStaysBelowTheDefaultThreshold() throws {
        let folder = try temporaryFolder("jpeg")
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["gradient-320x240.png", "checker-224x224.png", "stripes-97x151.png"] {
            let source = Repo.images.appendingPathComponent(name).path
            let jpeg = folder.appendingPathComponent(name + ".jpg").path
            // ffmpeg's MJPEG scale 2 (best) … 31; 8 is about JPEG quality 75.
            try tool("/usr/bin/ffmpeg", ["-loglevel", "error", "-y", "-i", source, "-q:v", "8", jpeg])
            let difference = FrameSignature(try image(name)).difference(FrameSignature(try ImageFile.load(jpeg)))
            #expect(difference > 0 && difference < FrameSignature.defaultThreshold, "\(name) as JPEG: \(difference)")
        }
    }

    @Test func aDifferentSceneIsAboveTheDefaultThreshold() throws {
        let folder = try temporaryFolder("scene")
        defer { try? FileManager.default.removeItem(at: folder) }
        let checker = try image("checker-224x224.png")
        let resized = folder.appendingPathComponent("gradient-224x224.png").path
        try tool(
            "/usr/bin/ffmpeg",
            [
                "-loglevel", "error", "-y", "-i", Repo.images.appendingPathComponent("gradient-320x240.png").path,
                "-vf", "scale=224:224", resized,
            ])
        let gradient = try ImageFile.load(resized)
        let base = FrameSignature(checker)
        let other = base.difference(FrameSignature(gradient))
        #expect(other > 10 * FrameSignature.defaultThreshold, "checker vs gradient: \(other)")
        // The same checkerboard moved 8 pixels to the right is a change too.
        var shifted = checker
        for y in 0..<checker.height {
            for x in 0..<checker.width {
                let from = (y * checker.width + (x + checker.width - 8) % checker.width) * 3
                for c in 0..<3 { shifted.bgr[(y * checker.width + x) * 3 + c] = checker.bgr[from + c] }
            }
        }
        let moved = base.difference(FrameSignature(shifted))
        #expect(moved > FrameSignature.defaultThreshold, "checker shifted by 8 px: \(moved)")
    }
}

@Suite struct ReuseRunTests {
    private let model = Repo.model("tiny-quickgelu-f32").path
    private let promptA = "a photo of a mobile phone"
    private let promptB = "a photo of an apple"

    @Test func aStillSceneReusesTheFirstEmbedding() throws {
        let folder = try temporaryFolder("still")
        defer { try? FileManager.default.removeItem(at: folder) }
        let csv = folder.appendingPathComponent("scores.csv")
        let result = try clipcam([
            "run", "--model", model, "--prompt", promptB, "--source",
            Repo.images.appendingPathComponent("gradient-320x240.png").path, "--fps", "30", "--loop", "--frames",
            "90", "--headless", "--jsonl", "-", "--csv", csv.path,
        ])
        #expect(result.status == 0, "clipcam run failed: \(result.stderr)")
        let lines = try jsonLines(result.stdout)
        let dropped = (lines.last?["dropped"] as? Int) ?? 0
        #expect(lines.count + dropped == 90, "\(lines.count) results + \(dropped) dropped")
        #expect(lines.count >= 85, "only \(lines.count) of 90 frames scored")
        #expect(lines.first?["reused"] as? Bool == false, "the first frame must be encoded")
        let reused = lines.dropFirst().filter { $0["reused"] as? Bool == true }.count
        #expect(reused == lines.count - 1, "\(reused) of \(lines.count - 1) later frames reused")
        // A reused result carries the encoded frame's cosine exactly.
        let cosines = Set(lines.compactMap { (($0["scores"] as? [[String: Any]])?.first?["cosine"] as? NSNumber) })
        #expect(cosines.count == 1, "cosines differ: \(cosines)")
        #expect(
            result.stderr.contains("90 frames captured, 1 encoded, \(dropped) dropped, \(reused) reused"),
            "\(result.stderr)")
        let rows = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(rows.count == lines.count)
        for (row, line) in zip(rows, lines) {
            let fields = row.split(separator: ",", omittingEmptySubsequences: false)
            #expect(fields[6] == ((line["reused"] as? Bool) == true ? "1" : "0"), "row \(row)")
        }
    }

    @Test func theFirstFrameOfANewSceneIsEncoded() throws {
        let folder = try temporaryFolder("scenes")
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = try twoSceneVideo(
            first: Repo.images.appendingPathComponent("checker-224x224.png").path,
            second: Repo.images.appendingPathComponent("gradient-320x240.png").path, in: folder)
        let prompts = folder.appendingPathComponent("two.txt")
        try "\(promptA)\n\(promptB)\n".write(to: prompts, atomically: true, encoding: .utf8)
        let result = try clipcam([
            "run", "--model", model, "--prompts", prompts.path, "--source", video.path, "--headless", "--jsonl", "-",
        ])
        #expect(result.status == 0, "clipcam run failed: \(result.stderr)")
        let lines = try jsonLines(result.stdout)
        let dropped = (lines.last?["dropped"] as? Int) ?? 0
        #expect(lines.count + dropped == 40)
        let encoded = lines.filter { $0["reused"] as? Bool == false }.compactMap { $0["frame"] as? Int }
        // One encoding per scene: the first frame of each that reached the encoder.
        #expect(encoded.count == 2, "encoded frames: \(encoded)")
        #expect(encoded.first.map { $0 <= dropped } == true, "encoded frames: \(encoded)")
        let firstOfB = try #require(lines.first { ($0["frame"] as? Int ?? 0) >= 20 })
        #expect(firstOfB["reused"] as? Bool == false, "the first frame of scene B was reused")
        #expect(firstOfB["label"] as? String == promptB)
        #expect((20...20 + dropped).contains(firstOfB["frame"] as? Int ?? -1))
        for line in lines {
            let frame = line["frame"] as? Int ?? -1
            #expect(line["label"] as? String == (frame < 20 ? promptA : promptB), "frame \(frame)")
        }
    }

    @Test func noReuseEncodesEveryFrame() throws {
        let result = try clipcam([
            "run", "--model", model, "--prompt", promptB, "--source",
            Repo.images.appendingPathComponent("gradient-320x240.png").path, "--fps", "30", "--loop", "--frames",
            "30", "--no-reuse", "--headless", "--jsonl", "-",
        ])
        #expect(result.status == 0, "clipcam run failed: \(result.stderr)")
        let lines = try jsonLines(result.stdout)
        #expect(lines.count >= 10, "only \(lines.count) frames scored")
        #expect(lines.allSatisfy { $0["reused"] as? Bool == false })
        #expect(result.stderr.contains("30 frames captured, \(lines.count) encoded,"), "\(result.stderr)")
        #expect(!result.stderr.contains("reused"), "\(result.stderr)")
    }

    @Test func aReuseThresholdOutsideTheGreyRangeIsRefused() throws {
        let result = try clipcam([
            "run", "--model", model, "--prompt", promptB, "--source", "synthetic", "--headless", "--jsonl", "-",
            "--reuse-threshold", "-1",
        ])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--reuse-threshold must be between 0 and 255 (grey levels), not -1.0"))
    }
}
