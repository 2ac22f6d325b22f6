import ScoreScale
import Testing

@testable import Display

/// Every test that touches SDL runs inside this suite, one at a time: SDL keeps global state and its objects
/// belong to one thread.
@Suite(.serialized) struct SDLTests {}

/// Renders into an offscreen software target and checks the pixels that come out.
extension SDLTests {
    @Suite struct OffscreenRenderTests {
        static let grey = Color(red: 120, green: 120, blue: 120)

        func single(_ cosine: Float, threshold: Float? = nil, random: Bool = false, banner: String? = nil)
            -> OverlayModel
        {
            OverlayModel(
                scores: .single(.init(prompt: "a photo of a cat", cosine: cosine, threshold: threshold)),
                status: sampleStatus, randomWeights: random, banner: banner)
        }

        func count(_ image: RGBImage, row y: Int, _ color: Color) -> Int {
            (0..<image.width).filter { image[$0, y] == color }.count
        }

        @Test(arguments: [
            (Float(0.15), 0.0), (0.275, 50.0), (0.40, 100.0), (0.2125, 25.0), (0.3375, 75.0), (0.05, 0.0),
            (0.9, 100.0),
        ])
        func barLengthMatchesTheScore(cosine: Float, percent: Double) throws {
            let fonts = try loadFonts()
            let (layout, image) = try renderOffscreen(
                single(cosine), size: PixelSize(width: 800, height: 600), fonts: fonts)
            let bar = try #require(layout.bars.first)
            let expected = Int((Double(bar.track.width) * percent / 100).rounded())
            #expect(bar.filledWidth == expected)
            for y in [bar.track.y, bar.track.y + bar.track.height / 2, bar.track.maxY - 1] {
                #expect(count(image, row: y, OverlayStyle.barFill) == expected, "row \(y)")
                #expect(count(image, row: y, OverlayStyle.barTrack) == bar.track.width - expected, "row \(y)")
                #expect(count(image, row: y, OverlayStyle.highlightFill) == 0)
                if expected > 0 {
                    #expect(image[bar.track.x, y] == OverlayStyle.barFill)
                    #expect(image[bar.track.x + expected - 1, y] == OverlayStyle.barFill)
                }
            }
            // The bar is exactly as tall as laid out.
            let column = bar.track.x + bar.track.width - 1
            let rows = (0..<image.height).filter {
                image[column, $0] == OverlayStyle.barTrack || image[column, $0] == OverlayStyle.barFill
            }
            #expect(rows == Array(bar.track.y..<bar.track.maxY))
            #expect(layout.text(.percent)?.text == "\(Int(percent)) %")
        }

        @Test func passingTheThresholdChangesTheBarColour() throws {
            let fonts = try loadFonts()
            let size = PixelSize(width: 800, height: 600)
            let (passLayout, pass) = try renderOffscreen(single(0.30, threshold: 0.25), size: size, fonts: fonts)
            let bar = try #require(passLayout.bars.first)
            let y = bar.track.y + bar.track.height / 2
            #expect(count(pass, row: y, OverlayStyle.highlightFill) == bar.filledWidth)
            #expect(count(pass, row: y, OverlayStyle.barFill) == 0)
            // The large number is tinted too.
            let number = try #require(passLayout.text(.percent))
            #expect(number.color == OverlayStyle.highlightText)
            #expect(pixels(pass, in: number.frame).contains(OverlayStyle.highlightText))

            let (failLayout, fail) = try renderOffscreen(single(0.24, threshold: 0.25), size: size, fonts: fonts)
            let failBar = try #require(failLayout.bars.first)
            #expect(count(fail, row: y, OverlayStyle.barFill) == failBar.filledWidth)
            #expect(count(fail, row: y, OverlayStyle.highlightFill) == 0)
            let failNumber = try #require(failLayout.text(.percent))
            #expect(!pixels(fail, in: failNumber.frame).contains(OverlayStyle.highlightText))

            // The threshold mark sits just above the bar, at 40 % of it.
            let marker = try #require(passLayout.markers.first).rect
            #expect(pass[marker.x + marker.width / 2, bar.track.y - 1] == OverlayStyle.thresholdMarker)
            #expect(abs(marker.x + marker.width / 2 - bar.track.x - bar.track.width * 2 / 5) <= 1)
        }

        @Test(arguments: [false, true])
        func textIsDrawnWhereTheLayoutSaysAndNowhereElse(random: Bool) throws {
            let fonts = try loadFonts()
            for size in [PixelSize(width: 800, height: 600), PixelSize(width: 1280, height: 720)] {
                let model = single(0.29, random: random, banner: "camera unplugged")
                let (layout, image) = try renderOffscreen(
                    model, size: size, frameColor: Self.grey, fonts: fonts,
                    savingTo: "/tmp/clipcam-display-text-\(random ? "random" : "plain")-\(size).png")
                #expect((layout.text(.warning) != nil) == random)
                let roles = layout.texts.map(\.role)
                for role in [TextRole.status, .prompt, .percent, .detail, .banner] {
                    #expect(roles.contains(role), "\(role) missing at \(size)")
                }
                for item in layout.texts {
                    let inside = pixels(image, in: item.frame)
                    let fill = inside.filter { $0 == item.color }.count
                    let outline = inside.filter { max($0.red, $0.green, $0.blue) <= 12 }.count
                    #expect(fill >= item.pixelSize, "\(item.role) '\(item.text)' has \(fill) fill pixels")
                    #expect(outline >= item.pixelSize, "\(item.role) '\(item.text)' has \(outline) outline pixels")
                }
                // Text colours appear only inside text (the edges of white text pass through every grey, so any
                // text may hold them); pure dark only inside text or in the letterbox bars, outside the video.
                let colours = Set(layout.texts.map(\.color))
                for y in 0..<image.height {
                    for x in 0..<image.width {
                        let p = image[x, y]
                        let owners = layout.texts.filter { $0.frame.contains(x: x, y: y) }
                        if colours.contains(p) {
                            #expect(!owners.isEmpty, "\(p) at (\(x),\(y)) outside text")
                        }
                        if max(p.red, p.green, p.blue) <= 12 && layout.video.contains(x: x, y: y) {
                            #expect(!owners.isEmpty, "dark pixel at (\(x),\(y)) outside text")
                        }
                        let red = p.red >= 200 && p.green <= 100 && p.blue <= 100
                        if red {
                            #expect(random && owners.contains { $0.role == .warning }, "red at (\(x),\(y))")
                        }
                    }
                }
                if random {
                    let warning = try #require(layout.text(.warning))
                    #expect(warning.text == "random weights — scores are meaningless")
                    #expect(pixels(image, in: warning.frame).contains(OverlayStyle.warningText))
                    let status = try #require(layout.text(.status))
                    #expect(warning.frame.y >= status.frame.maxY)
                }
            }
        }

        @Test func videoIsLetterboxedWithBlackBars() throws {
            let fonts = try loadFonts()
            let colour = Color(red: 200, green: 60, blue: 30)
            // 4:3 video in a 16:9 output: the status strip along the top, black pillars left and right below it.
            let (wide, wideImage) = try renderOffscreen(
                OverlayModel(status: sampleStatus), size: PixelSize(width: 960, height: 540), frameColor: colour,
                fonts: fonts)
            let strip = try #require(wide.backgrounds.first).rect
            #expect(strip.x == 0 && strip.y == 0 && strip.width == 960)
            let width = ((540 - strip.maxY) * 4 * 2 + 3) / 6
            let left = (960 - width) / 2
            #expect(wide.video == PixelRect(x: left, y: strip.maxY, width: width, height: 540 - strip.maxY))
            for y in stride(from: strip.maxY, to: 540, by: 7) {
                for x in 0..<960 {
                    let expected = x < left || x >= left + width ? Color.black : colour
                    #expect(wideImage[x, y] == expected, "(\(x),\(y))")
                }
            }
            // 16:9 video in a 4:3 output: black bars above and below (under the status strip).
            let (tall, tallImage) = try renderOffscreen(
                OverlayModel(status: sampleStatus), size: PixelSize(width: 800, height: 600),
                frameSize: PixelSize(width: 1280, height: 720), frameColor: colour, fonts: fonts)
            let top = try #require(tall.backgrounds.first).rect.maxY
            let bar = (600 - top - 450) / 2
            #expect(tall.video == PixelRect(x: 0, y: top + bar, width: 800, height: 450))
            for x in stride(from: 500, to: 800, by: 5) {
                for y in top..<600 {
                    let expected = y < top + bar || y >= top + bar + 450 ? Color.black : colour
                    #expect(tallImage[x, y] == expected, "(\(x),\(y))")
                }
            }
        }

        @Test func highlightFollowsTheBestPrompt() throws {
            let fonts = try loadFonts()
            let display = try OffscreenDisplay(size: PixelSize(width: 800, height: 600), fonts: fonts)
            let bytes = solidFrame(width: 320, height: 240, Self.grey)
            func render(best: Int) throws -> (OverlayLayout, RGBImage) {
                let rows = ["a cat", "a dog", "a bird"].enumerated().map { i, prompt in
                    OverlayModel.PromptScore(
                        prompt: prompt, cosine: 0.2 + Float(i) * 0.05, probability: i == best ? 0.8 : 0.1)
                }
                let model = OverlayModel(scores: .multi(.init(rows: rows)), status: sampleStatus)
                let layout = try BGRPixels.withPixels(of: bytes, width: 320, height: 240) {
                    try display.render(frame: $0, overlay: model)
                }
                try display.savePNG(path: "/tmp/clipcam-display-multi-best\(best).png")
                return (layout, try display.image())
            }
            for best in [1, 2, 0] {
                let (layout, image) = try render(best: best)
                #expect(layout.text(.bestLabel)?.text == ["a cat", "a dog", "a bird"][best])
                #expect(layout.bars.count == 3)
                for bar in layout.bars {
                    let row = try #require(bar.row)
                    let y = bar.track.y + bar.track.height / 2
                    let highlighted = count(image, row: y, OverlayStyle.highlightFill)
                    let plain = count(image, row: y, OverlayStyle.barFill)
                    let expected = filledWidth(
                        scaledPercent(cosine: 0.2 + Float(row) * 0.05, range: 0.15...0.40),
                        of: bar.track.width)
                    #expect(bar.filledWidth == expected)
                    if row == best {
                        #expect(highlighted == expected && plain == 0, "row \(row), best \(best)")
                    } else {
                        #expect(plain == expected && highlighted == 0, "row \(row), best \(best)")
                    }
                    // The best row's label is in the highlight colour, the others in white.
                    let label = try #require(layout.text(.rowLabel(row)))
                    let inside = pixels(image, in: label.frame)
                    #expect(inside.contains(OverlayStyle.highlightText) == (row == best))
                    #expect(inside.contains(OverlayStyle.text) == (row != best))
                    #expect(layout.text(.rowProbability(row))?.text == (row == best ? "p 0.80" : "p 0.10"))
                }
            }
        }

        @Test func multiPromptThresholdMarksEveryBarAndTintsPassingRows() throws {
            let fonts = try loadFonts()
            let display = try OffscreenDisplay(size: PixelSize(width: 800, height: 600), fonts: fonts)
            let bytes = solidFrame(width: 320, height: 240, Self.grey)
            // Cosines 0.20, 0.25, 0.30 against a threshold of 0.25 (40 % of the 0.15–0.40 range).
            let rows = ["a cat", "a dog", "a bird"].enumerated().map { i, prompt in
                OverlayModel.PromptScore(prompt: prompt, cosine: 0.2 + Float(i) * 0.05, probability: i == 0 ? 0.8 : 0.1)
            }
            let model = OverlayModel(scores: .multi(.init(rows: rows, threshold: 0.25)), status: sampleStatus)
            let layout = try BGRPixels.withPixels(of: bytes, width: 320, height: 240) {
                try display.render(frame: $0, overlay: model)
            }
            let image = try display.image()
            #expect(layout.markers.count == 3)
            for bar in layout.bars {
                let row = try #require(bar.row)
                let marker = try #require(layout.markers.first { $0.rect.y == bar.track.y }).rect
                #expect(abs(marker.x + marker.width / 2 - bar.track.x - bar.track.width * 2 / 5) <= 1)
                #expect(
                    image[marker.x + marker.width / 2, bar.track.y + bar.track.height / 2]
                        == OverlayStyle.thresholdMarker)
                let percent = try #require(layout.text(.rowPercent(row)))
                let passes = row >= 1
                let plainColor = row == 0 ? OverlayStyle.highlightText : OverlayStyle.text  // row 0 is the best
                #expect(percent.color == (passes ? OverlayStyle.thresholdMarker : plainColor), "row \(row)")
                #expect(pixels(image, in: percent.frame).contains(OverlayStyle.thresholdMarker) == passes, "row \(row)")
            }

            // Without a threshold nothing is marked.
            let plain = OverlayModel(scores: .multi(.init(rows: rows)), status: sampleStatus)
            let plainLayout = try BGRPixels.withPixels(of: bytes, width: 320, height: 240) {
                try display.render(frame: $0, overlay: plain)
            }
            #expect(plainLayout.markers.isEmpty)
        }

        @Test func nilFrameKeepsTheLastFrameAndNewSizesRelayout() throws {
            let fonts = try loadFonts()
            let display = try OffscreenDisplay(size: PixelSize(width: 400, height: 300), fonts: fonts)
            let model = OverlayModel(status: sampleStatus)
            let first = try display.render(frame: nil, overlay: model)
            #expect(first.video == .zero)
            #expect(try display.image()[200, 250] == .black)
            let red = solidFrame(width: 400, height: 300, Color(red: 250, green: 0, blue: 0))
            try BGRPixels.withPixels(of: red, width: 400, height: 300) {
                _ = try display.render(frame: $0, overlay: model)
            }
            let kept = try display.render(frame: nil, overlay: model)
            let strip = try #require(kept.backgrounds.first).rect.maxY
            let keptWidth = ((300 - strip) * 4 * 2 + 3) / 6
            #expect(kept.video == PixelRect(x: (400 - keptWidth) / 2, y: strip, width: keptWidth, height: 300 - strip))
            #expect(try display.image()[200, 250] == Color(red: 250, green: 0, blue: 0))
            let tall = solidFrame(width: 100, height: 200, Color(red: 0, green: 0, blue: 250))
            let relaid = try BGRPixels.withPixels(of: tall, width: 100, height: 200) {
                try display.render(frame: $0, overlay: model)
            }
            let tallWidth = ((300 - strip) * 2 + 1) / 4
            #expect(
                relaid.video == PixelRect(x: (400 - tallWidth) / 2, y: strip, width: tallWidth, height: 300 - strip))
            let image = try display.image()
            #expect(image[200, 250] == Color(red: 0, green: 0, blue: 250) && image[100, 250] == .black)
        }

        @Test func framesWithPaddedRowsAreRead() throws {
            let fonts = try loadFonts()
            let display = try OffscreenDisplay(size: PixelSize(width: 64, height: 48), fonts: fonts)
            // 4x3 frame, rows padded to 16 bytes; left half green, right half blue, padding red (never shown).
            var bytes = [UInt8](repeating: 0, count: 16 * 3)
            for y in 0..<3 {
                for x in 0..<4 {
                    let i = y * 16 + x * 3
                    if x < 2 { bytes[i + 1] = 255 } else { bytes[i] = 255 }
                }
                for i in (y * 16 + 12)..<(y * 16 + 16) { bytes[i] = 0x7F }
            }
            let layout = try bytes.withUnsafeBytes { raw in
                let frame = BGRPixels(base: raw.baseAddress!, width: 4, height: 3, rowBytes: 16)
                return try display.render(frame: frame, overlay: OverlayModel(status: sampleStatus))
            }
            let image = try display.image()
            let video = layout.video
            let y = video.maxY - 2
            #expect(image[video.x + 2, y] == Color(red: 0, green: 255, blue: 0))
            #expect(image[video.maxX - 3, y] == Color(red: 0, green: 0, blue: 255))
        }

        @Test func textTexturesAreReusedAndFreed() throws {
            let fonts = try loadFonts()
            let display = try OffscreenDisplay(size: PixelSize(width: 640, height: 480), fonts: fonts)
            let model = single(0.3, threshold: 0.2)
            try display.render(frame: nil, overlay: model)
            let steady = display.painter.cachedTextCount
            #expect(steady == 4)  // status, prompt, percent, detail
            for _ in 0..<300 { try display.render(frame: nil, overlay: model) }
            #expect(display.painter.cachedTextCount == steady)
            // A status line that changes every frame: old lines are freed after 120 frames unused.
            var changing = model
            var peak = 0
            for dropped in 0..<400 {
                changing.status.droppedFrames = dropped
                try display.render(frame: nil, overlay: changing)
                peak = max(peak, display.painter.cachedTextCount)
            }
            #expect(peak <= 3 + 150)
        }

        @Test(arguments: [(1, 1), (40, 30), (120, 90), (90, 400)])
        func tinyOutputsDrawWithoutTrouble(width: Int, height: Int) throws {
            let fonts = try loadFonts()
            let rows = (0..<5).map {
                OverlayModel.PromptScore(prompt: "prompt \($0)", cosine: 0.3, probability: $0 == 2 ? 0.6 : 0.1)
            }
            for scores in [
                OverlayModel.Scores.single(.init(prompt: "a cat", cosine: 0.3, threshold: 0.2)),
                .multi(.init(rows: rows)),
            ] {
                let model = OverlayModel(scores: scores, status: sampleStatus, randomWeights: true, banner: "paused")
                let (layout, image) = try renderOffscreen(
                    model, size: PixelSize(width: width, height: height), fonts: fonts)
                #expect(image.size == PixelSize(width: width, height: height))
                // Whatever is too long to fit is shortened or left out, never drawn past the edge.
                for text in layout.texts where !text.frame.isEmpty {
                    #expect(text.frame.maxX <= width, "\(text.role) '\(text.text)' \(text.frame)")
                    if width >= 40 { #expect(text.frame.x >= 0, "\(text.role) '\(text.text)' \(text.frame)") }
                }
            }
        }

        @Test func pngRoundTrips() throws {
            let fonts = try loadFonts()
            let path = "/tmp/clipcam-display-roundtrip.png"
            let (_, image) = try renderOffscreen(
                single(0.33, threshold: 0.3, random: true, banner: "paused"), size: PixelSize(width: 640, height: 480),
                fonts: fonts, savingTo: path)
            let loaded = try RGBImage(contentsOfFile: path)
            #expect(loaded.size == image.size)
            #expect(loaded.rgb == image.rgb)
            #expect {
                try OffscreenTarget(size: PixelSize(width: 8, height: 8)).savePNG(path: "/nonexistent/dir/x.png")
            } throws: { error in
                "\(error)".contains("/nonexistent/dir/x.png")
            }
        }
    }
}

func pixels(_ image: RGBImage, in rect: PixelRect) -> [Color] {
    var result: [Color] = []
    for y in max(0, rect.y)..<min(image.height, rect.maxY) {
        for x in max(0, rect.x)..<min(image.width, rect.maxX) {
            result.append(image[x, y])
        }
    }
    return result
}
