import Foundation
import Testing

@testable import Display

/// A minute of samples every half second: three prompts at constant scores, the second matching from 10 to 20 s.
func syntheticPlot(levels: [Float] = [20, 50, 80], hidden: Set<Int> = []) -> PlotData {
    let times = (0..<120).map { Double($0) * 0.5 }
    let series = levels.enumerated().map { index, level in
        PlotSeries(
            label: "prompt number \(index)", values: Array(repeating: level, count: times.count),
            visible: !hidden.contains(index),
            segments: index == 1 ? [PlotSegment(start: 10, end: 20)] : [])
    }
    return PlotData(times: times, series: series, duration: 60, cursor: 30, threshold: 65)
}

/// A column of the plot that no grid line, cursor or segment touches near `time`.
func freeColumn(_ layout: PlotLayout, near time: Double) -> Int {
    var x = layout.geometry.x(time: time)
    while layout.timeTicks.contains(where: { abs($0.position - x) <= 1 }) { x += 3 }
    return x
}

@Suite struct PlotGeometryTests {
    @Test func timeAndColumnsRoundTrip() {
        let geometry = PlotGeometry(
            plot: PixelRect(x: 40, y: 10, width: 601, height: 200), timeRange: 0...60, yRange: 0...100)
        #expect(geometry.x(time: 0) == 40 && geometry.x(time: 60) == 640 && geometry.x(time: 30) == 340)
        for x in stride(from: 40, to: 641, by: 7) {
            #expect(geometry.x(time: geometry.time(x: x)) == x)
        }
        // Clicks left or right of the plot clamp to its ends.
        #expect(geometry.time(x: 0) == 0 && geometry.time(x: 5000) == 60)
        #expect(geometry.y(value: 100) == 10 && geometry.y(value: 0) == 209 && geometry.y(value: 150) == 10)
    }

    @Test func valueTicksAreRound() {
        #expect(
            PlotLayout.valueTicks(0...100, unit: .percent).map(\.label) == ["0 %", "25 %", "50 %", "75 %", "100 %"])
        #expect(PlotLayout.valueTicks(-0.2...0.4, unit: .cosine).map(\.label) == ["-0.2", "0.0", "0.2", "0.4"])
        #expect(PlotLayout.timeLabel(3725, step: 60) == "1:02:05")
        #expect(PlotLayout.timeLabel(65.5, step: 0.5) == "1:05.5")
    }
}

extension SDLTests {
    @Suite struct PlotRenderTests {
        @Test func plotPNGDrawsEachPromptInItsColourWithThresholdSegmentAndCursor() throws {
            let fonts = try loadFonts()
            let data = syntheticPlot()
            let path = NSTemporaryDirectory() + "clipcam-plot-\(getpid()).png"
            defer { unlink(path) }
            try PlotImage.writePNG(data, width: 900, height: 300, path: path, fonts: fonts)
            let image = try RGBImage(contentsOfFile: path)
            #expect(image.size == PixelSize(width: 900, height: 300))
            // Kept for a look, as the overlay tests keep theirs.
            try? PlotImage.writePNG(data, width: 900, height: 300, path: "/tmp/clipcam-plot-sample.png", fonts: fonts)
            let layout = PlotLayout(data: data, rect: PixelRect(x: 0, y: 0, width: 900, height: 300), fonts: fonts)
            let g = layout.geometry
            #expect(layout.legend.map(\.series) == [0, 1, 2])

            // Each line at its level, in its palette colour, all along the minute.
            for (index, level) in [Float(20), 50, 80].enumerated() {
                for time in [2.0, 25, 44, 58] {
                    let x = freeColumn(layout, near: time)
                    #expect(image[x, g.y(value: level)] == PlotPalette.color(index), "series \(index) at \(time) s")
                }
                // The legend's swatch has the same colour.
                let swatch = layout.legend[index].swatch
                #expect(image[swatch.x + swatch.width / 2, swatch.y + swatch.height / 2] == PlotPalette.color(index))
            }
            // Nothing in the line colours away from the lines (a free row between them).
            let emptyRow = g.y(value: 35)
            let lineColours = Set(PlotPalette.colors.prefix(3))
            let stray = (g.plot.x..<g.plot.maxX).filter { lineColours.contains(image[$0, emptyRow]) }
            #expect(stray.isEmpty, "line colours at \(stray.prefix(5)) on row \(emptyRow)")

            // The threshold: dashes of its colour on its row, starting at the plot's left edge.
            let thresholdRow = g.y(value: 65)
            let dashes = (g.plot.x..<g.plot.maxX).filter { image[$0, thresholdRow] == PlotStyle.threshold }
            #expect(image[g.plot.x, thresholdRow] == PlotStyle.threshold)
            #expect(dashes.count > g.plot.width / 2 && dashes.count < g.plot.width, "\(dashes.count) dash pixels")

            // The second prompt's segment, 10–20 s: its lane in its colour, a shade over the plot; none outside.
            let inside = freeColumn(layout, near: 16.3)
            let outside = freeColumn(layout, near: 40.3)
            let lane = layout.lane(1)
            #expect(image[inside, lane.y + lane.height / 2] == PlotPalette.color(1))
            #expect(image[outside, lane.y + lane.height / 2] == PlotStyle.plotBackground)
            #expect(image[outside, emptyRow] == PlotStyle.plotBackground)
            let shade = image[inside, emptyRow]
            let expected = blend(PlotPalette.color(1), over: PlotStyle.plotBackground, alpha: PlotStyle.segmentAlpha)
            #expect(isNear(shade, expected), "segment shade \(shade), expected about \(expected)")

            // The cursor at 30 s, white from top to bottom of the plot (where no line crosses).
            let cursor = g.x(time: 30)
            #expect(image[cursor, emptyRow] == PlotStyle.cursor && image[cursor, g.plot.y + 2] == PlotStyle.cursor)
        }

        @Test func hiddenSeriesDrawNoLine() throws {
            let fonts = try loadFonts()
            let data = syntheticPlot(hidden: [1])
            let target = try PlotImage.render(data, width: 800, height: 260, fonts: fonts)
            let image = try target.image()
            let layout = PlotLayout(data: data, rect: PixelRect(x: 0, y: 0, width: 800, height: 260), fonts: fonts)
            let x = freeColumn(layout, near: 44)
            #expect(image[x, layout.geometry.y(value: 20)] == PlotPalette.color(0))
            #expect(image[x, layout.geometry.y(value: 50)] != PlotPalette.color(1))
            #expect(image[x, layout.geometry.y(value: 80)] == PlotPalette.color(2))
            // Its segment is not shaded either.
            let lane = layout.lane(1)
            #expect(image[freeColumn(layout, near: 16.3), lane.y] != PlotPalette.color(1))
        }

        /// A million samples alternating between 10 and 90 draw as full-height columns: decimation keeps each pixel
        /// column's extremes.
        @Test func decimationKeepsEveryColumnsExtremes() throws {
            let fonts = try loadFonts()
            let count = 1_000_000
            let times = (0..<count).map { Double($0) * 0.01 }
            let values = (0..<count).map { $0 % 2 == 0 ? Float(10) : 90 }
            let data = PlotData(
                times: times, series: [PlotSeries(label: "flicker", values: values)],
                duration: Double(count) * 0.01)
            let target = try PlotImage.render(data, width: 600, height: 200, fonts: fonts)
            let image = try target.image()
            let layout = PlotLayout(data: data, rect: PixelRect(x: 0, y: 0, width: 600, height: 200), fonts: fonts)
            let g = layout.geometry
            let x = freeColumn(layout, near: Double(count) * 0.005)
            for value in [Float(10), 30, 50, 70, 90] {
                #expect(image[x, g.y(value: value)] == PlotPalette.color(0), "value \(value)")
            }
            #expect(image[x, g.y(value: 95)] != PlotPalette.color(0))
        }

        @Test func missingValuesLeaveAGap() throws {
            let fonts = try loadFonts()
            let times = (0..<600).map { Double($0) * 0.1 }
            let values = times.map { $0 >= 20 && $0 < 40 ? Float.nan : 50 }
            let data = PlotData(times: times, series: [PlotSeries(label: "gap", values: values)], duration: 60)
            let image = try PlotImage.render(data, width: 800, height: 240, fonts: fonts).image()
            let layout = PlotLayout(data: data, rect: PixelRect(x: 0, y: 0, width: 800, height: 240), fonts: fonts)
            let row = layout.geometry.y(value: 50)
            for time in [5.0, 19.0, 41.0, 55.0] {
                #expect(image[freeColumn(layout, near: time), row] == PlotPalette.color(0), "\(time) s")
            }
            for time in [21.0, 30.0, 39.0] {
                #expect(image[freeColumn(layout, near: time), row] != PlotPalette.color(0), "line drawn at \(time) s")
            }
        }

        @Test func scrollingWindowShowsOnlyItsSeconds() throws {
            let fonts = try loadFonts()
            // Two minutes at 10 Hz: 1 % before 100 s, 99 % after; the window shows 90–120 s.
            let times = (0..<1200).map { Double($0) * 0.1 }
            let values = times.map { $0 < 100 ? Float(1) : 99 }
            let data = PlotData(
                times: times, series: [PlotSeries(label: "late", values: values)], timeRange: 90...120)
            let target = try PlotImage.render(data, width: 600, height: 200, fonts: fonts)
            let image = try target.image()
            let layout = PlotLayout(data: data, rect: PixelRect(x: 0, y: 0, width: 600, height: 200), fonts: fonts)
            let g = layout.geometry
            #expect(image[freeColumn(layout, near: 95), g.y(value: 1)] == PlotPalette.color(0))
            #expect(image[freeColumn(layout, near: 110), g.y(value: 99)] == PlotPalette.color(0))
            #expect(layout.timeTicks.allSatisfy { $0.position >= g.plot.x && $0.position < g.plot.maxX })
            #expect(layout.timeTicks.first?.label == "1:30")
        }

        @Test func writingAPlotReplacesAnExistingFileOnlyWhenComplete() throws {
            let fonts = try loadFonts()
            let folder = NSTemporaryDirectory() + "clipcam-plot-replace-\(getpid())"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let path = folder + "/plot.png"
            try Data("old".utf8).write(to: URL(fileURLWithPath: path))
            try PlotImage.writePNG(syntheticPlot(), width: 400, height: 200, path: path, fonts: fonts)
            #expect(try RGBImage(contentsOfFile: path).size == PixelSize(width: 400, height: 200))
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["plot.png"])
            // A folder that does not exist: an error naming the file, and nothing written.
            #expect(throws: SDLError.self) {
                try PlotImage.writePNG(
                    syntheticPlot(), width: 400, height: 200, path: folder + "/missing/plot.png", fonts: fonts)
            }
        }
    }
}

func blend(_ color: Color, over background: Color, alpha: UInt8) -> Color {
    func mix(_ a: UInt8, _ b: UInt8) -> UInt8 {
        let weight = Int(alpha)
        let sum: Int = Int(a) * weight + Int(b) * (255 - weight) + 127
        return UInt8(sum / 255)
    }
    return Color(
        red: mix(color.red, background.red), green: mix(color.green, background.green),
        blue: mix(color.blue, background.blue))
}

func isNear(_ a: Color, _ b: Color, tolerance: Int = 3) -> Bool {
    let differences: [Int] = [
        abs(Int(a.red) - Int(b.red)), abs(Int(a.green) - Int(b.green)), abs(Int(a.blue) - Int(b.blue)),
    ]
    return differences.allSatisfy { $0 <= tolerance }
}
