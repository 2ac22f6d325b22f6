import CSDL2
import Glibc

/// The mapping between the plot area's pixels and time / values.
public struct PlotGeometry: Equatable, Sendable {
    /// The rectangle the lines are drawn in.
    public var plot: PixelRect
    public var timeRange: ClosedRange<Double>
    public var yRange: ClosedRange<Float>

    /// The column of time `t` (may lie outside the plot for times outside the range).
    public func x(time t: Double) -> Int {
        let span = timeRange.upperBound - timeRange.lowerBound
        guard span > 0, plot.width > 1 else { return plot.x }
        return plot.x + Int(((t - timeRange.lowerBound) / span * Double(plot.width - 1)).rounded())
    }

    /// The time under column `x`, clamped to the time range.
    public func time(x: Int) -> Double {
        guard plot.width > 1 else { return timeRange.lowerBound }
        let fraction = min(1, max(0, Double(x - plot.x) / Double(plot.width - 1)))
        return timeRange.lowerBound + fraction * (timeRange.upperBound - timeRange.lowerBound)
    }

    /// The row of value `v`, clamped to the plot.
    public func y(value v: Float) -> Int {
        let span = yRange.upperBound - yRange.lowerBound
        guard span > 0, plot.height > 1 else { return plot.maxY - 1 }
        let fraction = min(1, max(0, (v - yRange.lowerBound) / span))
        return plot.maxY - 1 - Int((fraction * Float(plot.height - 1)).rounded())
    }
}

/// Where the parts of a plot strip go inside its rectangle; computed without drawing.
public struct PlotLayout: Equatable, Sendable {
    public struct LegendEntry: Equatable, Sendable {
        /// Index into `PlotData.series`.
        public var series: Int
        /// The colour swatch.
        public var swatch: PixelRect
        /// "1 a photo of a cat", shortened to fit.
        public var text: String
        public var textFrame: PixelRect
    }
    public struct Tick: Equatable, Sendable {
        /// The column (time ticks) or row (value ticks) of the grid line.
        public var position: Int
        public var label: String
        public var frame: PixelRect
    }

    public var rect: PixelRect
    public var geometry: PlotGeometry
    public var legend: [LegendEntry]
    /// The note at the right of the legend.
    public var note: (text: String, frame: PixelRect)?
    public var timeTicks: [Tick]
    public var valueTicks: [Tick]
    /// Height of one segment lane (a band per series along the plot's top edge).
    public var laneHeight: Int
    public var fontSize: Int

    public static func == (a: PlotLayout, b: PlotLayout) -> Bool {
        a.rect == b.rect && a.geometry == b.geometry && a.legend == b.legend && a.note?.text == b.note?.text
            && a.note?.frame == b.note?.frame && a.timeTicks == b.timeTicks && a.valueTicks == b.valueTicks
            && a.laneHeight == b.laneHeight && a.fontSize == b.fontSize
    }

    /// The plot-area row of segment lane `lane`.
    public func lane(_ lane: Int) -> PixelRect {
        let plot = geometry.plot
        return PixelRect(x: plot.x, y: plot.y + lane * laneHeight, width: plot.width, height: laneHeight)
    }

    /// The legend entry under a point, e.g. for a click that toggles a line.
    public func legendEntry(atX x: Int, y: Int) -> Int? {
        legend.first { $0.swatch.contains(x: x, y: y) || $0.textFrame.contains(x: x, y: y) }?.series
    }

    /// Lays out `data` in `rect` with text measured by `fonts`.
    public init(data: PlotData, rect: PixelRect, fonts: some TextMeasuring) {
        self.rect = rect
        let fontSize = min(18, max(11, rect.height / 14))
        self.fontSize = fontSize
        let pad = max(4, fontSize / 2)
        let lineHeight = fonts.measure("", style: .regular, pixelSize: fontSize).height

        // Legend: entries flow left to right over at most two rows; each label at most a quarter of the width.
        var legend: [LegendEntry] = []
        var noteFrame: (String, PixelRect)?
        var x = rect.x + pad
        var row = 0
        let swatchWidth = fontSize * 3 / 2
        let maxLabel = max(40, rect.width / 4)
        var rightEdge = rect.maxX - pad
        if let note = data.note, !note.isEmpty {
            let size = fonts.measure(note, style: .regular, pixelSize: fontSize)
            let frame = PixelRect(
                x: rect.maxX - pad - size.width, y: rect.y + pad, width: size.width, height: size.height)
            noteFrame = (note, frame)
            rightEdge = frame.x - pad
        }
        for (index, series) in data.series.enumerated() {
            let key = index < 9 ? "\(index + 1) " : ""
            var text = fonts.truncated(key + series.label, toWidth: maxLabel, style: .regular, pixelSize: fontSize)
            var width = fonts.measure(text, style: .regular, pixelSize: fontSize).width
            var entryWidth = swatchWidth + pad / 2 + width
            if x + entryWidth > (row == 0 ? rightEdge : rect.maxX - pad) && x > rect.x + pad {
                row += 1
                x = rect.x + pad
            }
            if row >= 2 { break }
            if x + entryWidth > rect.maxX - pad {
                text = fonts.truncated(
                    text, toWidth: rect.maxX - pad - x - swatchWidth - pad / 2, style: .regular, pixelSize: fontSize)
                width = fonts.measure(text, style: .regular, pixelSize: fontSize).width
                entryWidth = swatchWidth + pad / 2 + width
            }
            let y = rect.y + pad + row * lineHeight
            let swatch = PixelRect(
                x: x, y: y + lineHeight / 2 - max(2, fontSize / 6), width: swatchWidth, height: max(3, fontSize / 3))
            legend.append(
                LegendEntry(
                    series: index, swatch: swatch, text: text,
                    textFrame: PixelRect(x: x + swatchWidth + pad / 2, y: y, width: width, height: lineHeight)))
            x += entryWidth + pad * 2
        }
        self.legend = legend
        self.note = noteFrame
        let legendRows = data.series.isEmpty ? (noteFrame == nil ? 0 : 1) : row + (legend.isEmpty ? 0 : 1)
        let legendBottom = rect.y + pad + min(2, legendRows) * lineHeight

        // Value labels on the left, time labels along the bottom.
        let valueLabels = PlotLayout.valueTicks(data.yRange, unit: data.unit)
        let labelWidth =
            valueLabels.map { fonts.measure($0.label, style: .regular, pixelSize: fontSize).width }.max() ?? 0
        let plot = PixelRect(
            x: rect.x + pad + labelWidth + pad, y: legendBottom + pad,
            width: max(2, rect.maxX - pad - (rect.x + pad + labelWidth + pad)),
            height: max(2, rect.maxY - pad - lineHeight - pad / 2 - (legendBottom + pad)))
        let geometry = PlotGeometry(plot: plot, timeRange: data.timeRange, yRange: data.yRange)
        self.geometry = geometry
        laneHeight = max(2, min(4, plot.height / 30))

        valueTicks = valueLabels.map { tick in
            let y = geometry.y(value: tick.value)
            let size = fonts.measure(tick.label, style: .regular, pixelSize: fontSize)
            let top = min(plot.maxY - size.height / 2, max(plot.y - size.height / 2, y - size.height / 2))
            return Tick(
                position: y, label: tick.label,
                frame: PixelRect(x: plot.x - pad - size.width, y: top, width: size.width, height: size.height))
        }
        // Time ticks: the smallest "nice" step whose labels do not touch.
        let span = data.timeRange.upperBound - data.timeRange.lowerBound
        let sample = fonts.measure(PlotLayout.timeLabel(span, step: 1), style: .regular, pixelSize: fontSize).width
        let minimumGap = Double(sample + 3 * pad)
        let step =
            PlotLayout.timeSteps.first { span > 0 && Double(plot.width) * $0 / span >= minimumGap }
            ?? max(span, 1)
        var ticks: [Tick] = []
        var t = (data.timeRange.lowerBound / step).rounded(.up) * step
        while t <= data.timeRange.upperBound + step * 1e-9 && ticks.count < 200 {
            let x = geometry.x(time: t)
            let label = PlotLayout.timeLabel(t, step: step)
            let size = fonts.measure(label, style: .regular, pixelSize: fontSize)
            let left = min(rect.maxX - pad - size.width, max(rect.x + pad, x - size.width / 2))
            // A label pushed against the edge onto its neighbour is left out (its grid line too).
            if let previous = ticks.last, left < previous.frame.maxX + pad {
                t += step
                continue
            }
            ticks.append(
                Tick(
                    position: x, label: label,
                    frame: PixelRect(x: left, y: plot.maxY + pad / 2, width: size.width, height: size.height)))
            t += step
        }
        timeTicks = ticks
    }

    /// Candidate steps between time ticks, in seconds.
    static let timeSteps: [Double] = [
        0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    ]

    /// "0:05", "1:02:03", "0:01.5" (tenths when the step is below a second).
    static func timeLabel(_ seconds: Double, step: Double) -> String {
        let negative = seconds < 0
        let tenths = Int((abs(seconds) * 10).rounded())
        let whole = tenths / 10
        let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        var text = h > 0 ? "\(h):\(two(m)):\(two(s))" : "\(m):\(two(s))"
        if step < 1 { text += ".\(tenths % 10)" }
        return (negative ? "-" : "") + text
    }

    /// Four or five round values across `range`.
    static func valueTicks(_ range: ClosedRange<Float>, unit: PlotUnit) -> [(value: Float, label: String)] {
        let span = Double(range.upperBound - range.lowerBound)
        guard span > 0 else { return [] }
        let raw = span / 4
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let step = [1.0, 2.0, 2.5, 5.0, 10.0].map { $0 * magnitude }.first { $0 >= raw * 0.999 } ?? raw
        let digits = max(0, Int(-(log10(step)).rounded(.down)) + (step / magnitude == 2.5 ? 1 : 0))
        var result: [(Float, String)] = []
        var v = (Double(range.lowerBound) / step).rounded(.up) * step
        while v <= Double(range.upperBound) + step * 1e-6 {
            let text = formatFixed(v, digits: digits)
            result.append((Float(v), unit == .percent ? "\(text) %" : text))
            v += step
        }
        return result
    }
}

/// Draws plot strips with one renderer: one coloured line per prompt over time (decimated to one min/max pair per
/// pixel column, so hours of samples draw as fast as a few), a legend, the cursor, the threshold, shaded segments and
/// labelled axes. Labels are rasterised once and kept (see `TextTextures`); nothing else allocates per frame once
/// the point buffer has grown to the plot's width.
public final class PlotStrip {
    public let renderer: Renderer
    public let fonts: OverlayFonts
    private let text: TextTextures
    private var points: [SDL_Point] = []
    /// Line thickness in pixels (1–3).
    public var lineWidth: Int

    public init(renderer: Renderer, fonts: OverlayFonts, lineWidth: Int = 2) {
        self.renderer = renderer
        self.fonts = fonts
        self.text = TextTextures(renderer: renderer, fonts: fonts)
        self.lineWidth = min(3, max(1, lineWidth))
    }

    /// The layout `draw` would use, e.g. to map a click to a time.
    public func layout(_ data: PlotData, in rect: PixelRect) -> PlotLayout {
        PlotLayout(data: data, rect: rect, fonts: fonts)
    }

    /// Draws `data` into `rect`; returns the layout used.
    @discardableResult
    public func draw(_ data: PlotData, in rect: PixelRect) throws -> PlotLayout {
        text.nextFrame()
        let layout = PlotLayout(data: data, rect: rect, fonts: fonts)
        guard !rect.isEmpty else { return layout }
        let geometry = layout.geometry
        let plot = geometry.plot
        try renderer.fill(rect, PlotStyle.background)
        try renderer.fill(plot, PlotStyle.plotBackground)

        // Grid and labels.
        for tick in layout.valueTicks {
            try renderer.fill(PixelRect(x: plot.x, y: tick.position, width: plot.width, height: 1), PlotStyle.grid)
            try text.draw(
                tick.label, pixelSize: layout.fontSize, color: PlotStyle.axisText, x: tick.frame.x, y: tick.frame.y)
        }
        for tick in layout.timeTicks {
            try renderer.fill(PixelRect(x: tick.position, y: plot.y, width: 1, height: plot.height), PlotStyle.grid)
            try text.draw(
                tick.label, pixelSize: layout.fontSize, color: PlotStyle.axisText, x: tick.frame.x, y: tick.frame.y)
        }

        // Segments: a light shade over the plot's height and a solid lane per series along its top.
        var lane = 0
        for (index, series) in data.series.enumerated() where series.visible {
            var color = data.color(ofSeries: index)
            let laneRect = layout.lane(lane)
            lane += 1
            for segment in series.segments {
                let start = max(segment.start, data.timeRange.lowerBound)
                let end = min(segment.end, data.timeRange.upperBound)
                guard end >= start else { continue }
                let x0 = geometry.x(time: start)
                let x1 = max(x0 + 1, geometry.x(time: end))
                color.alpha = PlotStyle.segmentAlpha
                try renderer.fill(PixelRect(x: x0, y: plot.y, width: x1 - x0, height: plot.height), color)
                color.alpha = 255
                try renderer.fill(PixelRect(x: x0, y: laneRect.y, width: x1 - x0, height: laneRect.height), color)
            }
        }

        // The threshold, dashed.
        if let threshold = data.threshold, data.yRange.contains(threshold) {
            let y = geometry.y(value: threshold)
            let dash = max(6, layout.fontSize / 2)
            var x = plot.x
            while x < plot.maxX {
                try renderer.fill(
                    PixelRect(x: x, y: y, width: min(dash, plot.maxX - x), height: 1), PlotStyle.threshold)
                x += dash * 3 / 2
            }
        }

        // Lines, clipped to the plot.
        // Opaque lines need no blending (the software renderer blends every pixel otherwise).
        var clip = SDL_Rect(plot)
        SDL_RenderSetClipRect(renderer.handle, &clip)
        SDL_SetRenderDrawBlendMode(renderer.handle, SDL_BLENDMODE_NONE)
        defer {
            SDL_RenderSetClipRect(renderer.handle, nil)
            SDL_SetRenderDrawBlendMode(renderer.handle, SDL_BLENDMODE_BLEND)
        }
        for (index, series) in data.series.enumerated() where series.visible {
            try drawLine(data.times, series.values, geometry: geometry, color: data.color(ofSeries: index))
        }
        SDL_RenderSetClipRect(renderer.handle, nil)
        SDL_SetRenderDrawBlendMode(renderer.handle, SDL_BLENDMODE_BLEND)

        if let cursor = data.cursor, data.timeRange.contains(cursor) {
            let x = geometry.x(time: cursor)
            try renderer.fill(PixelRect(x: x - 1, y: plot.y, width: 2, height: plot.height), PlotStyle.cursor)
        }

        // Legend.
        for entry in layout.legend {
            let visible = data.series[entry.series].visible
            let color = data.color(ofSeries: entry.series)
            if visible {
                try renderer.fill(entry.swatch, color)
            } else {
                // A hollow swatch for a hidden line.
                let s = entry.swatch
                try renderer.fill(PixelRect(x: s.x, y: s.y, width: s.width, height: 1), color)
                try renderer.fill(PixelRect(x: s.x, y: s.maxY - 1, width: s.width, height: 1), color)
                try renderer.fill(PixelRect(x: s.x, y: s.y, width: 1, height: s.height), color)
                try renderer.fill(PixelRect(x: s.maxX - 1, y: s.y, width: 1, height: s.height), color)
            }
            try text.draw(
                entry.text, pixelSize: layout.fontSize, color: visible ? OverlayStyle.text : PlotStyle.hiddenText,
                x: entry.textFrame.x, y: entry.textFrame.y)
        }
        if let note = layout.note {
            try text.draw(
                note.text, pixelSize: layout.fontSize, color: OverlayStyle.secondaryText, x: note.frame.x,
                y: note.frame.y)
        }
        return layout
    }

    /// One series as a polyline through, per pixel column, the column's first, lowest, highest and last value:
    /// every column shows the full range its samples span, and the line is continuous across columns. NaN values
    /// break the line. The samples of a column are found by comparing their times with the column's right edge
    /// (times ascend), so the per-sample work is a comparison and a min/max; only four values a column are mapped to
    /// pixels.
    private func drawLine(_ times: [Double], _ values: [Float], geometry: PlotGeometry, color: Color) throws {
        guard !times.isEmpty else { return }
        SDL_SetRenderDrawColor(renderer.handle, color.red, color.green, color.blue, 255)
        // The samples from the last one before the range to the first one after it.
        let first = max(0, PlotStrip.firstIndex(times, atLeast: geometry.timeRange.lowerBound) - 1)
        let last = min(times.count - 1, PlotStrip.firstIndex(times, atLeast: geometry.timeRange.upperBound))
        guard first <= last else { return }
        points.removeAll(keepingCapacity: true)
        let plot = geometry.plot
        let t0 = geometry.timeRange.lowerBound
        let span = geometry.timeRange.upperBound - t0
        let xScale = span > 0 && plot.width > 1 ? Double(plot.width - 1) / span : 0
        func row(_ value: Float) -> Int32 { Int32(geometry.y(value: value)) }

        try times.withUnsafeBufferPointer { t in
            try values.withUnsafeBufferPointer { v in
                var i = first
                while i <= last {
                    let column = xScale > 0 ? Int(((t[i] - t0) * xScale).rounded()) : 0
                    // Times below this belong to `column` (the rounding's boundary to the next one).
                    let edge = xScale > 0 ? t0 + (Double(column) + 0.5) / xScale : .infinity
                    var firstValue = v[i]
                    var low = firstValue
                    var high = firstValue
                    var lastValue = firstValue
                    var gap = firstValue.isNaN
                    var j = i + 1
                    while j <= last && t[j] < edge {
                        let value = v[j]
                        if value.isNaN {
                            gap = true
                        } else {
                            if firstValue.isNaN { (firstValue, low, high) = (value, value, value) }
                            low = Swift.min(low, value)
                            high = Swift.max(high, value)
                            lastValue = value
                        }
                        j += 1
                    }
                    if gap { try strokePoints() }
                    if !firstValue.isNaN {
                        let x = Int32(plot.x + column)
                        // Screen rows grow downwards: the lowest value is the largest row.
                        let (yFirst, yLow, yHigh, yLast) = (row(firstValue), row(low), row(high), row(lastValue))
                        points.append(SDL_Point(x: x, y: yFirst))
                        if yLow != yFirst { points.append(SDL_Point(x: x, y: yLow)) }
                        if yHigh != yLow { points.append(SDL_Point(x: x, y: yHigh)) }
                        if yLast != yHigh { points.append(SDL_Point(x: x, y: yLast)) }
                    }
                    if gap && lastValue.isNaN { try strokePoints() }
                    i = j
                }
            }
        }
        try strokePoints()
    }

    /// Draws the collected polyline `lineWidth` pixels thick, then empties it.
    private func strokePoints() throws {
        defer { points.removeAll(keepingCapacity: true) }
        guard !points.isEmpty else { return }
        if points.count == 1 { points.append(points[0]) }
        let offsets: [(Int32, Int32)] = [(0, 0), (1, 0), (0, 1), (1, 1)].prefix(
            lineWidth == 1 ? 1 : lineWidth == 2 ? 3 : 4
        )
        .map { $0 }
        for (dx, dy) in offsets {
            if dx != 0 || dy != 0 {
                for i in points.indices {
                    points[i].x += dx
                    points[i].y += dy
                }
            }
            let status = points.withUnsafeBufferPointer { buffer in
                SDL_RenderDrawLines(renderer.handle, buffer.baseAddress, Int32(buffer.count))
            }
            if dx != 0 || dy != 0 {
                for i in points.indices {
                    points[i].x -= dx
                    points[i].y -= dy
                }
            }
            guard status == 0 else { throw SDLError.lastError("SDL_RenderDrawLines(\(points.count) points)") }
        }
    }

    /// The index of the first time ≥ `t` (`times.count` when there is none); `times` is ascending.
    public static func firstIndex(_ times: [Double], atLeast t: Double) -> Int {
        var low = 0
        var high = times.count
        while low < high {
            let mid = (low + high) / 2
            if times[mid] < t { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

/// Plot strips drawn off screen and saved as PNG, e.g. `clipcam analyze --plot FILE.png`.
public enum PlotImage {
    /// Draws `data` over a whole `width`×`height` image and writes it as PNG to `path`: into a temporary file
    /// beside it first, renamed over `path` once complete, so an existing file is replaced only by a whole new one.
    /// Needs no display (SDL's software renderer draws into memory).
    public static func writePNG(
        _ data: PlotData, width: Int, height: Int, path: String, fonts: OverlayFonts? = nil
    ) throws {
        let target = try render(data, width: width, height: height, fonts: fonts)
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let partial = folder + "." + name + ".partial-\(getpid())"
        do {
            try target.savePNG(path: partial)
        } catch {
            unlink(partial)
            throw SDLError.pngWriteFailed(path: path, message: "\(error)")
        }
        guard rename(partial, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(partial)
            throw SDLError.pngWriteFailed(path: path, message: "cannot rename the finished file into place: \(reason)")
        }
    }

    /// Draws `data` over a whole `width`×`height` offscreen image.
    public static func render(_ data: PlotData, width: Int, height: Int, fonts: OverlayFonts? = nil) throws
        -> OffscreenTarget
    {
        precondition(width > 0 && height > 0, "a plot image needs a size, got \(width)x\(height)")
        let target = try OffscreenTarget(size: PixelSize(width: width, height: height))
        let strip = PlotStrip(
            renderer: target.renderer, fonts: try fonts ?? OverlayFonts())
        try target.renderer.clear(PlotStyle.background)
        try strip.draw(data, in: PixelRect(x: 0, y: 0, width: width, height: height))
        return target
    }
}
