import ScoreScale

/// Regular or bold face of the overlay's font.
public enum FontStyle: Hashable, Sendable {
    case regular
    case bold
}

/// What a piece of overlay text is, so that callers and tests can find it in a layout.
public enum TextRole: Hashable, Sendable {
    case status
    case warning
    case banner
    /// Single-prompt mode: the prompt, the large scaled score, and the cosine / range line under the bar.
    case prompt
    case percent
    case detail
    /// Multi-prompt mode: the best prompt written large, then per row (index into the model's rows) its label,
    /// scaled score and probability, and a note on rows left out.
    case bestLabel
    case rowLabel(Int)
    case rowPercent(Int)
    case rowProbability(Int)
    case hiddenRows
}

/// A line of text placed in the overlay. `frame` is exactly the size `TextMeasuring.measure` gives.
public struct TextItem: Equatable, Sendable {
    public var role: TextRole
    public var text: String
    public var style: FontStyle
    public var pixelSize: Int
    /// Multiplies the white fill; the outline stays black.
    public var color: Color
    public var frame: PixelRect
}

/// A score bar: a track, filled from the left over `filledWidth` pixels.
public struct BarItem: Equatable, Sendable {
    /// Index into the model's rows in multi-prompt mode; nil in single-prompt mode.
    public var row: Int?
    public var track: PixelRect
    public var filledWidth: Int
    public var percent: Double
    public var highlighted: Bool

    public var filled: PixelRect { PixelRect(x: track.x, y: track.y, width: filledWidth, height: track.height) }
    public var fillColor: Color { highlighted ? OverlayStyle.highlightFill : OverlayStyle.barFill }
}

/// A rectangle filled with a colour (alpha-blended).
public struct FilledRect: Equatable, Sendable {
    public var rect: PixelRect
    public var color: Color
}

/// Measures text the way the renderer will draw it.
public protocol TextMeasuring {
    func measure(_ text: String, style: FontStyle, pixelSize: Int) -> PixelSize
    func truncated(_ text: String, toWidth width: Int, style: FontStyle, pixelSize: Int) -> String
}

/// Colours and proportions of the overlay.
public enum OverlayStyle {
    public static let letterbox = Color.black
    public static let panel = Color(red: 0, green: 0, blue: 0, alpha: 150)
    public static let barTrack = Color(red: 72, green: 72, blue: 72)
    public static let barFill = Color(red: 64, green: 140, blue: 245)
    public static let highlightFill = Color(red: 40, green: 210, blue: 110)
    public static let highlightRow = Color(red: 40, green: 210, blue: 110, alpha: 56)
    public static let highlightText = Color(red: 130, green: 255, blue: 170)
    public static let thresholdMarker = Color(red: 235, green: 200, blue: 60)
    public static let text = Color.white
    public static let secondaryText = Color(red: 200, green: 200, blue: 200)
    public static let warningText = Color(red: 255, green: 70, blue: 70)

    /// Width in pixels of the dark outline around text of `pixelSize`.
    public static func outline(forPixelSize pixelSize: Int) -> Int {
        max(1, (pixelSize + 9) / 18)
    }
}

/// The video rectangle inside `container` that shows `content` as large as possible with its aspect ratio kept,
/// centred; the rest of the container is letterbox (or pillarbox) bars. Empty when either size is empty.
public func letterboxRect(content: PixelSize, in container: PixelSize) -> PixelRect {
    guard content.width > 0, content.height > 0, container.width > 0, container.height > 0 else { return .zero }
    // Compare the aspect ratios exactly in integers: container.w / container.h vs content.w / content.h.
    if container.width * content.height <= container.height * content.width {
        let height = (container.width * content.height * 2 + content.width) / (2 * content.width)
        return PixelRect(x: 0, y: (container.height - height) / 2, width: container.width, height: height)
    } else {
        let width = (container.height * content.width * 2 + content.height) / (2 * content.height)
        return PixelRect(x: (container.width - width) / 2, y: 0, width: width, height: container.height)
    }
}

/// Where everything of an overlay goes in an output of a given size; computed without drawing anything.
public struct OverlayLayout: Equatable, Sendable {
    public var size: PixelSize
    /// Where the video frame is drawn; black bars fill the rest.
    public var video: PixelRect
    /// Translucent backgrounds and row highlights, drawn first, in order.
    public var backgrounds: [FilledRect] = []
    public var bars: [BarItem] = []
    /// Small marks at the threshold position of a bar.
    public var markers: [FilledRect] = []
    public var texts: [TextItem] = []

    public func text(_ role: TextRole) -> TextItem? { texts.first { $0.role == role } }

    /// Lays out `model` over an output of `size` showing video frames of `frameSize` (nil: no frame yet).
    public init(model: OverlayModel, frameSize: PixelSize?, size: PixelSize, fonts: some TextMeasuring) {
        self.size = size
        self.video = frameSize.map { letterboxRect(content: $0, in: size) } ?? .zero
        var builder = Builder(size: size, fonts: fonts)
        let top = builder.statusPanel(model)
        let hasBanner = !(model.banner ?? "").isEmpty
        var bottom = size.height - builder.margin
        switch model.scores {
        case .none: break
        case .single(let score): bottom = builder.singlePanel(score)
        case .multi(let scores):
            // Rows that would reach into the banner's place are left out.
            let bannerSpace = hasBanner ? builder.lineHeight(.bold, builder.bannerSize) + 2 * builder.padding : 0
            bottom = builder.multiPanel(scores, top: top + builder.margin + bannerSpace + builder.margin)
        }
        if let banner = model.banner, hasBanner {
            builder.bannerPanel(banner, between: top, and: bottom)
        }
        backgrounds = builder.backgrounds
        bars = builder.bars
        markers = builder.markers
        texts = builder.texts
    }

    private struct Builder<Fonts: TextMeasuring> {
        let size: PixelSize
        let fonts: Fonts
        let margin: Int
        let padding: Int
        let gap: Int
        let statusSize: Int
        let bodySize: Int
        let bigSize: Int
        let labelSize: Int
        let bannerSize: Int
        let barHeight: Int
        var backgrounds: [FilledRect] = []
        var bars: [BarItem] = []
        var markers: [FilledRect] = []
        var texts: [TextItem] = []

        init(size: PixelSize, fonts: Fonts) {
            self.size = size
            self.fonts = fonts
            // Everything scales with the window; 800x600 is scale 1.
            let scale = min(4, max(0.5, min(Double(size.width) / 800, Double(size.height) / 600)))
            func scaled(_ value: Double, atLeast minimum: Int) -> Int { max(minimum, Int((value * scale).rounded())) }
            margin = scaled(10, atLeast: 4)
            padding = scaled(8, atLeast: 3)
            gap = scaled(10, atLeast: 4)
            statusSize = scaled(15, atLeast: 11)
            bodySize = scaled(22, atLeast: 12)
            bigSize = scaled(72, atLeast: 24)
            labelSize = scaled(44, atLeast: 18)
            bannerSize = scaled(28, atLeast: 14)
            barHeight = scaled(20, atLeast: 8)
        }

        /// Width available for content inside a full-width panel.
        var innerWidth: Int { size.width - 2 * margin - 2 * padding }
        var innerLeft: Int { margin + padding }

        func measure(_ text: String, _ style: FontStyle, _ pixelSize: Int) -> PixelSize {
            fonts.measure(text, style: style, pixelSize: pixelSize)
        }

        func lineHeight(_ style: FontStyle, _ pixelSize: Int) -> Int {
            fonts.measure("", style: style, pixelSize: pixelSize).height
        }

        /// Places `text` (truncated to `maxWidth`) with its top-left corner at `x`, `y`; returns its frame.
        @discardableResult
        mutating func place(
            _ role: TextRole, _ text: String, style: FontStyle, pixelSize: Int, color: Color, x: Int, y: Int,
            maxWidth: Int, alignRight: Bool = false
        ) -> PixelRect {
            let shown = fonts.truncated(text, toWidth: max(0, maxWidth), style: style, pixelSize: pixelSize)
            let measured = measure(shown, style, pixelSize)
            let left = alignRight ? x + maxWidth - measured.width : x
            let frame = PixelRect(x: left, y: y, width: measured.width, height: measured.height)
            texts.append(
                TextItem(role: role, text: shown, style: style, pixelSize: pixelSize, color: color, frame: frame))
            return frame
        }

        /// The status line and the random-weights warning in the top-left corner; returns the panel's bottom.
        mutating func statusPanel(_ model: OverlayModel) -> Int {
            let x = margin + padding
            var y = margin + padding
            var right = x
            let status = place(
                .status, model.status.text, style: .regular, pixelSize: statusSize, color: OverlayStyle.text, x: x,
                y: y, maxWidth: innerWidth)
            right = max(right, status.maxX)
            y = status.maxY
            if model.randomWeights {
                let warning = place(
                    .warning, OverlayModel.randomWeightsWarning, style: .bold, pixelSize: statusSize,
                    color: OverlayStyle.warningText, x: x, y: y, maxWidth: innerWidth)
                right = max(right, warning.maxX)
                y = warning.maxY
            }
            let panel = PixelRect(x: margin, y: margin, width: right + padding - margin, height: y + padding - margin)
            backgrounds.insert(FilledRect(rect: panel, color: OverlayStyle.panel), at: 0)
            return panel.maxY
        }

        /// Single-prompt panel along the bottom; returns its top.
        mutating func singlePanel(_ score: OverlayModel.SinglePrompt) -> Int {
            let percent = score.percent
            let passes = score.passesThreshold
            // The large number takes at most 3/5 of a narrow panel.
            var numberSize = bigSize
            var numberBox = measure("100 %", .bold, numberSize)
            while numberSize > 10 && numberBox.width > innerWidth * 3 / 5 {
                numberSize = numberSize * 4 / 5
                numberBox = measure("100 %", .bold, numberSize)
            }
            let promptHeight = lineHeight(.regular, bodySize)
            let detailHeight = lineHeight(.regular, statusSize)
            let markerHeight = max(3, gap * 3 / 4)
            let panelHeight = padding + numberBox.height + markerHeight + barHeight + gap / 2 + detailHeight + padding
            let panel = PixelRect(
                x: margin, y: size.height - margin - panelHeight, width: size.width - 2 * margin, height: panelHeight)
            backgrounds.append(FilledRect(rect: panel, color: OverlayStyle.panel))

            let rowTop = panel.y + padding
            place(
                .prompt, score.prompt, style: .regular, pixelSize: bodySize, color: OverlayStyle.text, x: innerLeft,
                y: rowTop + (numberBox.height - promptHeight) / 2, maxWidth: innerWidth - numberBox.width - gap)
            place(
                .percent, "\(Int(percent.rounded())) %", style: .bold, pixelSize: numberSize,
                color: passes ? OverlayStyle.highlightText : OverlayStyle.text,
                x: innerLeft + innerWidth - numberBox.width, y: rowTop, maxWidth: numberBox.width, alignRight: true)

            let track = PixelRect(
                x: innerLeft, y: rowTop + numberBox.height + markerHeight, width: innerWidth, height: barHeight)
            bars.append(
                BarItem(
                    row: nil, track: track, filledWidth: filledWidth(percent, of: track.width), percent: percent,
                    highlighted: passes))
            if let threshold = score.threshold {
                let position = filledWidth(scaledPercent(cosine: threshold, range: score.range), of: track.width)
                let markerWidth = max(3, barHeight / 4)
                let x = min(track.maxX - markerWidth, max(track.x, track.x + position - markerWidth / 2))
                markers.append(
                    FilledRect(
                        rect: PixelRect(x: x, y: track.y - markerHeight, width: markerWidth, height: markerHeight),
                        color: OverlayStyle.thresholdMarker))
            }

            var detail =
                "cosine \(formatFixed(Double(score.cosine), digits: 3))"
                + " · range \(formatFixed(Double(score.range.lowerBound), digits: 2))"
                + "–\(formatFixed(Double(score.range.upperBound), digits: 2))"
            if let threshold = score.threshold {
                detail += " · threshold \(formatFixed(Double(threshold), digits: 3))"
            }
            place(
                .detail, detail, style: .regular, pixelSize: statusSize, color: OverlayStyle.secondaryText,
                x: innerLeft, y: track.maxY + gap / 2, maxWidth: innerWidth)
            return panel.y
        }

        /// Multi-prompt panel along the bottom, not reaching above `top`; returns its top.
        mutating func multiPanel(_ scores: OverlayModel.MultiPrompt, top: Int) -> Int {
            guard let best = scores.bestIndex else { return size.height - margin }
            let rowHeight = lineHeight(.regular, bodySize)
            let rowGap = max(2, gap / 3)
            let bestHeight = lineHeight(.bold, labelSize)
            let noteHeight = lineHeight(.regular, statusSize)

            // Rows that fit; when some do not, keep the most probable ones (the best among them) and say so.
            let available = size.height - margin - top - 2 * padding - bestHeight - gap
            func height(rows: Int, note: Bool) -> Int {
                rows * rowHeight + max(0, rows - 1) * rowGap + (note ? rowGap + noteHeight : 0)
            }
            var shown = Array(scores.rows.indices)
            if height(rows: shown.count, note: false) > available {
                var count = shown.count - 1
                while count > 1 && height(rows: count, note: true) > available { count -= 1 }
                let ranked = scores.rows.indices.sorted {
                    scores.rows[$0].probability > scores.rows[$1].probability
                        || (scores.rows[$0].probability == scores.rows[$1].probability && $0 < $1)
                }
                shown = ranked.prefix(max(1, count)).sorted()
            }
            let hidden = scores.rows.count - shown.count

            let panelHeight = padding + bestHeight + gap + height(rows: shown.count, note: hidden > 0) + padding
            let panel = PixelRect(
                x: margin, y: size.height - margin - panelHeight, width: size.width - 2 * margin, height: panelHeight)
            backgrounds.append(FilledRect(rect: panel, color: OverlayStyle.panel))
            place(
                .bestLabel, scores.rows[best].prompt, style: .bold, pixelSize: labelSize,
                color: OverlayStyle.highlightText, x: innerLeft, y: panel.y + padding, maxWidth: innerWidth)

            // Columns: label | bar | scaled % | probability. Narrow outputs drop the probability, then the %.
            let percentWidth = measure("100 %", .regular, bodySize).width
            let probabilityWidth = measure("p 1.00", .regular, bodySize).width
            let minimumBar = max(8, innerWidth / 4)
            let showProbability = percentWidth + probabilityWidth + 3 * gap + minimumBar <= innerWidth
            let showPercent = percentWidth + 2 * gap + minimumBar <= innerWidth
            let fixed = gap + (showPercent ? percentWidth + gap : 0) + (showProbability ? probabilityWidth + gap : 0)
            let widestLabel = shown.map { measure(scores.rows[$0].prompt, .regular, bodySize).width }.max() ?? 0
            let labelWidth = max(0, min(widestLabel, innerWidth * 2 / 5, innerWidth - fixed - minimumBar))
            let barWidth = max(0, innerWidth - labelWidth - fixed)
            let barHeight = max(4, rowHeight * 11 / 20)

            var y = panel.y + padding + bestHeight + gap
            for index in shown {
                let row = scores.rows[index]
                let isBest = index == best
                if isBest {
                    let band = PixelRect(
                        x: panel.x + padding / 2, y: y - rowGap / 2, width: panel.width - padding,
                        height: rowHeight + rowGap)
                    backgrounds.append(FilledRect(rect: band, color: OverlayStyle.highlightRow))
                }
                let textColor = isBest ? OverlayStyle.highlightText : OverlayStyle.text
                place(
                    .rowLabel(index), row.prompt, style: .regular, pixelSize: bodySize, color: textColor,
                    x: innerLeft, y: y, maxWidth: labelWidth)
                let percent = scaledPercent(cosine: row.cosine, range: scores.range)
                let track = PixelRect(
                    x: innerLeft + labelWidth + gap, y: y + (rowHeight - barHeight) / 2, width: barWidth,
                    height: barHeight)
                bars.append(
                    BarItem(
                        row: index, track: track, filledWidth: filledWidth(percent, of: barWidth), percent: percent,
                        highlighted: isBest))
                if let threshold = scores.threshold {
                    // A full-height tick across the track at the threshold.
                    let position = filledWidth(scaledPercent(cosine: threshold, range: scores.range), of: barWidth)
                    let markerWidth = max(2, barHeight / 5)
                    let x = min(track.maxX - markerWidth, max(track.x, track.x + position - markerWidth / 2))
                    markers.append(
                        FilledRect(
                            rect: PixelRect(x: x, y: track.y, width: markerWidth, height: track.height),
                            color: OverlayStyle.thresholdMarker))
                }
                if showPercent {
                    let percentColor = scores.passesThreshold(index) ? OverlayStyle.thresholdMarker : textColor
                    place(
                        .rowPercent(index), "\(Int(percent.rounded())) %", style: .regular, pixelSize: bodySize,
                        color: percentColor, x: track.maxX + gap, y: y, maxWidth: percentWidth, alignRight: true)
                }
                if showProbability {
                    let probability = Double(min(1, max(0, row.probability)))
                    place(
                        .rowProbability(index), "p \(formatFixed(probability, digits: 2))", style: .regular,
                        pixelSize: bodySize, color: textColor, x: track.maxX + 2 * gap + percentWidth, y: y,
                        maxWidth: probabilityWidth, alignRight: true)
                }
                y += rowHeight + rowGap
            }
            if hidden > 0 {
                place(
                    .hiddenRows, "+\(hidden) less likely prompt\(hidden == 1 ? "" : "s") not shown",
                    style: .regular, pixelSize: statusSize, color: OverlayStyle.secondaryText, x: innerLeft, y: y,
                    maxWidth: innerWidth)
            }
            return panel.y
        }

        /// The banner centred between the status panel's bottom and the score panel's top.
        mutating func bannerPanel(_ banner: String, between top: Int, and bottom: Int) {
            let height = lineHeight(.bold, bannerSize)
            let center = (top + bottom) / 2
            let y = max(top + padding, center - height / 2)
            let frame = place(
                .banner, banner, style: .bold, pixelSize: bannerSize, color: OverlayStyle.text, x: innerLeft, y: y,
                maxWidth: innerWidth)
            let centered = (size.width - frame.width) / 2
            texts[texts.count - 1].frame.x = centered
            let panel = PixelRect(
                x: centered - padding, y: y - padding, width: frame.width + 2 * padding, height: height + 2 * padding)
            backgrounds.append(FilledRect(rect: panel, color: OverlayStyle.panel))
        }
    }
}

/// Pixels of a bar `width` wide filled for `percent` (0–100): exactly proportional, rounded to the nearest pixel.
public func filledWidth(_ percent: Double, of width: Int) -> Int {
    let clamped = min(100, max(0, percent.isFinite ? percent : 0))
    return Int((Double(width) * clamped / 100).rounded())
}
