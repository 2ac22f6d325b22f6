import ScoreScale
import Testing

@testable import Display

@Suite struct ScalingTests {
    @Test(arguments: [
        (Float(0.15), 0.0), (0.40, 100.0), (0.275, 50.0), (0.2125, 25.0), (0.10, 0.0), (-0.3, 0.0), (0.41, 100.0),
        (0.9, 100.0),
    ])
    func defaultRange(cosine: Float, percent: Double) {
        #expect(abs(scaledPercent(cosine: cosine, range: OverlayModel.defaultRange) - percent) < 1e-4)
    }

    @Test func customRangeAndNonFinite() {
        #expect(abs(scaledPercent(cosine: 0.25, range: 0.2...0.3) - 50) < 1e-4)
        #expect(abs(scaledPercent(cosine: 0.22, range: 0.2...0.3) - 20) < 1e-4)
        #expect(scaledPercent(cosine: .nan, range: 0.2...0.3) == 0)
    }

    @Test(arguments: [
        (0.0, 400, 0), (50.0, 400, 200), (100.0, 400, 400), (25.0, 401, 100), (99.9, 300, 300), (33.3, 300, 100),
        (-5.0, 300, 0), (140.0, 300, 300), (0.1, 999, 1),
    ])
    func barFill(percent: Double, width: Int, filled: Int) {
        #expect(filledWidth(percent, of: width) == filled)
    }

    @Test func fixedFormatting() {
        #expect(formatFixed(0.2834, digits: 3) == "0.283")
        #expect(formatFixed(9.96, digits: 1) == "10.0")
        #expect(formatFixed(0.05, digits: 2) == "0.05")
        #expect(formatFixed(-0.125, digits: 2) == "-0.13")
        #expect(formatFixed(-0.001, digits: 2) == "0.00")
        #expect(formatFixed(7, digits: 0) == "7")
    }

    @Test func statusText() {
        #expect(sampleStatus.text == "camera 30.0 fps · encoder 9.6 fps · dropped 12 · ViT-B/32")
        let unknown = OverlayModel.Status(modelName: "random ViT-B/32")
        #expect(unknown.text == "camera – fps · encoder – fps · dropped 0 · random ViT-B/32")
    }

    @Test func bestRowIsMostProbableAndFirstOfEquals() {
        let rows = [
            OverlayModel.PromptScore(prompt: "a", cosine: 0.3, probability: 0.2),
            OverlayModel.PromptScore(prompt: "b", cosine: 0.2, probability: 0.4),
            OverlayModel.PromptScore(prompt: "c", cosine: 0.1, probability: 0.4),
        ]
        #expect(OverlayModel.MultiPrompt(rows: rows).bestIndex == 1)
        #expect(OverlayModel.MultiPrompt(rows: []).bestIndex == nil)
    }
}

@Suite struct LetterboxTests {
    @Test(arguments: [
        // content, container, expected rectangle
        ((640, 480), (960, 540), PixelRect(x: 120, y: 0, width: 720, height: 540)),
        ((640, 480), (640, 480), PixelRect(x: 0, y: 0, width: 640, height: 480)),
        ((1920, 1080), (800, 600), PixelRect(x: 0, y: 75, width: 800, height: 450)),
        ((480, 640), (1280, 720), PixelRect(x: 370, y: 0, width: 540, height: 720)),
        ((641, 480), (1000, 500), PixelRect(x: 166, y: 0, width: 668, height: 500)),
        ((100, 100), (301, 200), PixelRect(x: 50, y: 0, width: 200, height: 200)),
        ((100, 100), (200, 301), PixelRect(x: 0, y: 50, width: 200, height: 200)),
        ((0, 480), (640, 480), PixelRect.zero),
        ((640, 480), (0, 0), PixelRect.zero),
    ])
    func rectangle(content: (Int, Int), container: (Int, Int), expected: PixelRect) {
        let rect = letterboxRect(
            content: PixelSize(width: content.0, height: content.1),
            in: PixelSize(width: container.0, height: container.1))
        #expect(rect == expected)
    }

    @Test func keepsAspectCentresAndFillsOneDirection() {
        for content in [(640, 480), (1280, 720), (352, 288), (720, 1280), (1, 1), (3000, 7)] {
            for container in [(960, 540), (1024, 768), (333, 777), (1920, 1200), (10, 10)] {
                let c = PixelSize(width: content.0, height: content.1)
                let box = PixelSize(width: container.0, height: container.1)
                let rect = letterboxRect(content: c, in: box)
                #expect(rect.x >= 0 && rect.y >= 0 && rect.maxX <= box.width && rect.maxY <= box.height)
                #expect(rect.width == box.width || rect.height == box.height)
                // Centred: the bars on both sides differ by at most one pixel.
                #expect(abs(rect.x - (box.width - rect.maxX)) <= 1 && abs(rect.y - (box.height - rect.maxY)) <= 1)
                // Aspect ratio kept up to the rounding of the shorter side.
                let scale = min(Double(box.width) / Double(c.width), Double(box.height) / Double(c.height))
                #expect(abs(Double(rect.width) - Double(c.width) * scale) <= 0.5 + 1e-9)
                #expect(abs(Double(rect.height) - Double(c.height) * scale) <= 0.5 + 1e-9)
            }
        }
    }
}

@Suite struct OverlayLayoutTests {
    static let sizes = [
        PixelSize(width: 320, height: 240), PixelSize(width: 640, height: 480), PixelSize(width: 800, height: 600),
        PixelSize(width: 1280, height: 720), PixelSize(width: 1920, height: 1080), PixelSize(width: 480, height: 900),
    ]

    static func models() -> [OverlayModel] {
        let long = String(repeating: "a very long prompt that never ends ", count: 6)
        let rows = (0..<20).map { i in
            OverlayModel.PromptScore(
                prompt: i == 3 ? long : "prompt number \(i)", cosine: 0.1 + Float(i) * 0.02,
                probability: i == 7 ? 0.5 : 0.5 / 19)
        }
        return [
            OverlayModel(status: sampleStatus),
            OverlayModel(
                scores: .single(.init(prompt: "a photo of a cat", cosine: 0.3, threshold: 0.25)), status: sampleStatus,
                randomWeights: true, banner: "paused"),
            OverlayModel(
                scores: .single(.init(prompt: long, cosine: 0.9)), status: sampleStatus, banner: "/ " + long),
            OverlayModel(scores: .multi(.init(rows: Array(rows.prefix(3)))), status: sampleStatus, randomWeights: true),
            OverlayModel(scores: .multi(.init(rows: rows)), status: sampleStatus, banner: "camera unplugged"),
        ]
    }

    @Test func nothingOverlapsAndEverythingIsInside() throws {
        let fonts = try loadFonts()
        for size in Self.sizes {
            for (model, plotHeight) in Self.models().flatMap({ model in [0, 150].map { (model, $0) } }) {
                let layout = OverlayLayout(
                    model: model, frameSize: PixelSize(width: 640, height: 480), size: size, fonts: fonts,
                    reserved: OverlayLayout.Reserved(plotHeight: plotHeight))
                let whole = PixelRect(x: 0, y: 0, width: size.width, height: size.height)
                // Nothing covers the video but the banner; nothing reaches into the plot's band.
                let bannerPanel = layout.text(.banner).flatMap { banner in
                    layout.backgrounds.first { contains($0.rect, banner.frame) }?.rect
                }
                for background in layout.backgrounds where background.rect != bannerPanel {
                    #expect(!background.rect.intersects(layout.video), "\(background.rect) covers the video at \(size)")
                    #expect(!background.rect.intersects(layout.plot), "\(background.rect) covers the plot at \(size)")
                }
                #expect(!layout.video.intersects(layout.plot))
                #expect(layout.plot.height == (plotHeight == 0 ? 0 : min(150, layout.plot.height)))
                let boxes =
                    layout.texts.map { ("text \($0.role) '\($0.text)'", $0.frame) }
                    + layout.bars.map { ("bar \(String(describing: $0.row))", $0.track) }
                    + layout.markers.map { ("marker", $0.rect) }
                for (name, box) in boxes {
                    #expect(
                        box.x >= 0 && box.y >= 0 && box.maxX <= whole.width && box.maxY <= whole.height,
                        "\(name) \(box) leaves the \(size) output")
                }
                for i in boxes.indices {
                    for j in boxes.indices where j > i {
                        #expect(
                            !boxes[i].1.intersects(boxes[j].1),
                            "\(boxes[i].0) \(boxes[i].1) overlaps \(boxes[j].0) \(boxes[j].1) at \(size)")
                    }
                }
                // Every text sits on a background panel, so it reads over any video.
                for text in layout.texts {
                    #expect(
                        layout.backgrounds.contains { $0.color == OverlayStyle.panel && contains($0.rect, text.frame) },
                        "text \(text.role) \(text.frame) has no panel behind it at \(size)")
                }
            }
        }
    }

    @Test func singlePromptParts() throws {
        let fonts = try loadFonts()
        let model = OverlayModel(
            scores: .single(.init(prompt: "a photo of a cat", cosine: 0.2975, threshold: 0.25)), status: sampleStatus)
        let layout = OverlayLayout(
            model: model, frameSize: PixelSize(width: 640, height: 480), size: PixelSize(width: 800, height: 600),
            fonts: fonts)
        // The video keeps its shape and shares no pixel with the score panel.
        #expect(abs(layout.video.width * 3 - layout.video.height * 4) <= 4)
        #expect(!layout.backgrounds.contains { $0.rect.intersects(layout.video) })
        #expect(layout.text(.prompt)?.text == "a photo of a cat")
        #expect(layout.text(.percent)?.text == "59 %")
        #expect(layout.text(.percent)?.color == OverlayStyle.highlightText)
        #expect(layout.text(.detail)?.text == "cosine 0.298 · range 0.15–0.40 · threshold 0.250")
        #expect(layout.text(.warning) == nil && layout.text(.banner) == nil)
        let bar = try #require(layout.bars.first)
        #expect(layout.bars.count == 1 && bar.highlighted)
        #expect(bar.filledWidth == filledWidth(59, of: bar.track.width))
        // The threshold marker stands above the bar at 40 % of its length.
        let marker = try #require(layout.markers.first)
        #expect(marker.rect.maxY == bar.track.y)
        #expect(abs(marker.rect.x + marker.rect.width / 2 - (bar.track.x + bar.track.width * 40 / 100)) <= 1)
        // The large number is larger than the prompt.
        #expect(layout.text(.percent)!.pixelSize > 2 * layout.text(.prompt)!.pixelSize)
    }

    @Test func manyPromptsKeepTheLikeliestRows() throws {
        let fonts = try loadFonts()
        let rows = (0..<30).map { i in
            OverlayModel.PromptScore(prompt: "prompt \(i)", cosine: 0.2, probability: i == 17 ? 0.9 : Float(i) / 1000)
        }
        let layout = OverlayLayout(
            model: OverlayModel(scores: .multi(.init(rows: rows)), status: sampleStatus), frameSize: nil,
            size: PixelSize(width: 640, height: 480), fonts: fonts)
        let shown = layout.bars.compactMap(\.row)
        #expect(shown.count > 3 && shown.count < 30)
        #expect(shown.contains(17))
        #expect(shown == shown.sorted())
        // The rows shown are the most probable ones: 17, then 29, 28, …
        let expected = [17] + (0..<30).reversed().filter { $0 != 17 }.prefix(shown.count - 1)
        #expect(Set(shown) == Set(expected))
        #expect(layout.text(.hiddenRows)?.text == "+\(30 - shown.count) less likely prompts not shown")
        #expect(layout.text(.bestLabel)?.text == "prompt 17")
        #expect(layout.video == .zero)
    }

    private func contains(_ outer: PixelRect, _ inner: PixelRect) -> Bool {
        inner.x >= outer.x && inner.y >= outer.y && inner.maxX <= outer.maxX && inner.maxY <= outer.maxY
    }
}

@Suite struct CommonWordsTests {
    @Test func sharedLeadingWordsAreDroppedWhenEveryLabelKeepsOne() {
        let labels = ["a photo of a laptop", "a photo of a computer mouse", "a photo of a pen"]
        #expect(droppingCommonWords(labels, of: [0, 1, 2]) == ["laptop", "computer mouse", "pen"])
        #expect(droppingCommonWords(labels, of: [1]) == labels)
        #expect(droppingCommonWords(["a cat", "a dog"], of: [0, 1]) == ["cat", "dog"])
        #expect(droppingCommonWords(["a photo", "a photo of a dog"], of: [0, 1]) == ["photo", "photo of a dog"])
        #expect(droppingCommonWords(["cat", "dog"], of: [0, 1]) == ["cat", "dog"])
        // Only the rows shown count; the others keep their text.
        #expect(droppingCommonWords(["x y", "x z", "w"], of: [0, 1]) == ["y", "z", "w"])
    }
}
