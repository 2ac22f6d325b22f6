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
///
/// Nothing but a transient banner covers the video: the status line is a strip along the top, the score panel goes
/// beside the video (a column on the right) or below it, whichever leaves the video larger, and room reserved for
/// a plot strip (`Reserved.plotHeight`) is a band along the bottom. The video is letterboxed in what is left.
public struct OverlayLayout: Equatable, Sendable {
    /// Room the caller keeps for its own drawing.
    public struct Reserved: Equatable, Sendable {
        /// Height of a full-width band along the bottom (a plot strip); 0 for none.
        public var plotHeight: Int
        public init(plotHeight: Int = 0) { self.plotHeight = plotHeight }
        public static let none = Reserved()
    }

    /// Where the score panel went.
    public enum Arrangement: Equatable, Sendable {
        case none
        case beside
        case below
    }

    public var size: PixelSize
    /// Where the video frame is drawn; black bars fill the rest.
    public var video: PixelRect
    /// The band kept for a plot strip (empty when none was reserved).
    public var plot: PixelRect = .zero
    public var arrangement: Arrangement = .none
    /// Translucent backgrounds and row highlights, drawn first, in order.
    public var backgrounds: [FilledRect] = []
    public var bars: [BarItem] = []
    /// Small marks at the threshold position of a bar.
    public var markers: [FilledRect] = []
    public var texts: [TextItem] = []

    public func text(_ role: TextRole) -> TextItem? { texts.first { $0.role == role } }

    /// Lays out `model` over an output of `size` showing video frames of `frameSize` (nil: no frame yet).
    public init(
        model: OverlayModel, frameSize: PixelSize?, size: PixelSize, fonts: some TextMeasuring,
        reserved: Reserved = .none
    ) {
        self.size = size
        var builder = Builder(size: size, fonts: fonts)
        let top = builder.statusPanel(model)
        let plotHeight = min(max(0, reserved.plotHeight), max(0, (size.height - top) / 2))
        if plotHeight > 0 {
            plot = PixelRect(x: 0, y: size.height - plotHeight, width: size.width, height: plotHeight)
        }
        // The region under the status strip and above the plot, for the video and the score panel.
        let middle = PixelRect(x: 0, y: top, width: size.width, height: size.height - top - plotHeight)
        // Frames not known yet are laid out as 4:3, the commonest camera shape.
        let content = frameSize ?? PixelSize(width: 4, height: 3)
        var videoArea = middle
        let m = builder.margin
        switch model.scores {
        case .none: break
        case .single, .multi:
            // Beside: a column at least `minColumn` wide, wider when the letterboxed video leaves more room.
            let fullVideo = letterboxRect(content: content, in: middle.size)
            let minColumn = min(middle.width / 2, builder.scaledWidth(300))
            let column = min(middle.width / 2, max(minColumn, middle.width - fullVideo.width))
            let besideVideo = letterboxRect(
                content: content, in: PixelSize(width: middle.width - column, height: middle.height))
            let columnRect = PixelRect(
                x: middle.maxX - column + m / 2, y: middle.y + m / 2, width: column - m, height: middle.height - m)
            // Below: the panel's natural height at the full width, at most half the region.
            let belowWidth = middle.width - 2 * m
            let natural: Int
            switch model.scores {
            case .single(let score): natural = builder.singlePanelHeight(score, width: belowWidth)
            case .multi(let scores): natural = builder.multiPanelHeight(scores, width: belowWidth, rows: nil)
            case .none: natural = 0
            }
            let belowHeight = min(natural + m, middle.height / 2)
            let belowVideo = letterboxRect(
                content: content, in: PixelSize(width: middle.width, height: middle.height - belowHeight))
            let belowRect = PixelRect(
                x: middle.x + m, y: middle.maxY - belowHeight + m / 2, width: belowWidth, height: belowHeight - m)
            let beside = besideVideo.width * besideVideo.height >= belowVideo.width * belowVideo.height
            arrangement = beside ? .beside : .below
            var panel = beside ? columnRect : belowRect
            videoArea =
                beside
                ? PixelRect(x: middle.x, y: middle.y, width: middle.width - column, height: middle.height)
                : PixelRect(x: middle.x, y: middle.y, width: middle.width, height: middle.height - belowHeight)
            switch model.scores {
            case .single(let score):
                panel.height = min(panel.height, builder.singlePanelHeight(score, width: panel.width))
                builder.singlePanel(score, in: panel)
            case .multi(let scores):
                builder.multiPanel(scores, in: panel)
            case .none: break
            }
        }
        let box = letterboxRect(content: content, in: videoArea.size)
        self.video =
            frameSize == nil
            ? .zero : PixelRect(x: videoArea.x + box.x, y: videoArea.y + box.y, width: box.width, height: box.height)
        if let banner = model.banner, !banner.isEmpty {
            builder.bannerPanel(banner, over: videoArea)
        }
        backgrounds = builder.backgrounds
        bars = builder.bars
        markers = builder.markers
        texts = builder.texts
    }

    private struct Builder<Fonts: TextMeasuring> {
        let size: PixelSize
        let fonts: Fonts
        let scale: Double
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
            self.scale = scale
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

        func scaledWidth(_ value: Double) -> Int { Int((value * scale).rounded()) }

        /// Width available for content inside a full-width strip.
        var innerWidth: Int { size.width - 2 * margin - 2 * padding }

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

        /// The status line and the random-weights warning in a strip along the top; returns the strip's bottom.
        mutating func statusPanel(_ model: OverlayModel) -> Int {
            let x = margin + padding
            var y = padding
            let status = place(
                .status, model.status.text, style: .regular, pixelSize: statusSize, color: OverlayStyle.text, x: x,
                y: y, maxWidth: innerWidth)
            y = status.maxY
            if model.randomWeights {
                let warning = place(
                    .warning, OverlayModel.randomWeightsWarning, style: .bold, pixelSize: statusSize,
                    color: OverlayStyle.warningText, x: x, y: y, maxWidth: innerWidth)
                y = warning.maxY
            }
            let strip = PixelRect(x: 0, y: 0, width: size.width, height: y + padding)
            backgrounds.insert(FilledRect(rect: strip, color: OverlayStyle.panel), at: 0)
            return strip.maxY
        }

        /// The large number's size and box for a panel `width` wide: at most 3/5 of it.
        func numberFont(width: Int) -> (size: Int, box: PixelSize) {
            var numberSize = bigSize
            var numberBox = measure("100 %", .bold, numberSize)
            while numberSize > 10 && numberBox.width > (width - 2 * padding) * 3 / 5 {
                numberSize = numberSize * 4 / 5
                numberBox = measure("100 %", .bold, numberSize)
            }
            return (numberSize, numberBox)
        }

        /// Height of the single-prompt panel `width` wide.
        func singlePanelHeight(_ score: OverlayModel.SinglePrompt, width: Int) -> Int {
            let numberBox = numberFont(width: width).box
            let markerHeight = max(3, gap * 3 / 4)
            let promptLine = stacksPrompt(score, width: width) ? lineHeight(.regular, bodySize) + gap / 2 : 0
            let detailLine = lineHeight(.regular, statusSize)
            return padding + promptLine + numberBox.height + markerHeight + barHeight + gap / 2 + detailLine + padding
        }

        /// Whether the prompt goes on a line of its own above the number: it does not fit beside it.
        func stacksPrompt(_ score: OverlayModel.SinglePrompt, width: Int) -> Bool {
            let numberBox = numberFont(width: width).box
            return measure(score.prompt, .regular, bodySize).width > width - 2 * padding - numberBox.width - gap
        }

        /// The single-prompt panel filling `panel`.
        mutating func singlePanel(_ score: OverlayModel.SinglePrompt, in panel: PixelRect) {
            let percent = score.percent
            let passes = score.passesThreshold
            let (numberSize, numberBox) = numberFont(width: panel.width)
            let innerLeft = panel.x + padding
            let innerWidth = panel.width - 2 * padding
            let promptHeight = lineHeight(.regular, bodySize)
            let markerHeight = max(3, gap * 3 / 4)
            backgrounds.append(FilledRect(rect: panel, color: OverlayStyle.panel))

            var rowTop = panel.y + padding
            if stacksPrompt(score, width: panel.width) {
                place(
                    .prompt, score.prompt, style: .regular, pixelSize: bodySize, color: OverlayStyle.text,
                    x: innerLeft, y: rowTop, maxWidth: innerWidth)
                rowTop += promptHeight + gap / 2
            } else {
                place(
                    .prompt, score.prompt, style: .regular, pixelSize: bodySize, color: OverlayStyle.text,
                    x: innerLeft, y: rowTop + (numberBox.height - promptHeight) / 2,
                    maxWidth: innerWidth - numberBox.width - gap)
            }
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
        }

        var rowHeight: Int { lineHeight(.regular, bodySize) }
        var rowGap: Int { max(2, gap / 3) }

        func rowsHeight(rows: Int, note: Bool) -> Int {
            rows * rowHeight + max(0, rows - 1) * rowGap + (note ? rowGap + lineHeight(.regular, statusSize) : 0)
        }

        /// Height of the multi-prompt panel showing `rows` rows (nil: all of them).
        func multiPanelHeight(_ scores: OverlayModel.MultiPrompt, width: Int, rows: Int?) -> Int {
            guard scores.bestIndex != nil else { return 0 }
            let count = rows ?? scores.rows.count
            return padding + lineHeight(.bold, labelSize) + gap
                + rowsHeight(rows: count, note: count < scores.rows.count) + padding
        }

        /// The multi-prompt panel at the top of `area`, no taller than it: when not every row fits, the most
        /// probable ones are shown (the best among them) and a note says how many are not.
        mutating func multiPanel(_ scores: OverlayModel.MultiPrompt, in area: PixelRect) {
            guard let best = scores.bestIndex else { return }
            let bestHeight = lineHeight(.bold, labelSize)
            let innerLeft = area.x + padding
            let innerWidth = area.width - 2 * padding

            let available = area.height - 2 * padding - bestHeight - gap
            var shown = Array(scores.rows.indices)
            if rowsHeight(rows: shown.count, note: false) > available {
                var count = shown.count - 1
                while count > 1 && rowsHeight(rows: count, note: true) > available { count -= 1 }
                let ranked = scores.rows.indices.sorted {
                    scores.rows[$0].probability > scores.rows[$1].probability
                        || (scores.rows[$0].probability == scores.rows[$1].probability && $0 < $1)
                }
                shown = ranked.prefix(max(1, count)).sorted()
            }
            let hidden = scores.rows.count - shown.count

            let panelHeight = min(area.height, multiPanelHeight(scores, width: area.width, rows: shown.count))
            let panel = PixelRect(x: area.x, y: area.y, width: area.width, height: panelHeight)
            backgrounds.append(FilledRect(rect: panel, color: OverlayStyle.panel))
            // The best prompt large, smaller (down to the rows' size) when it would not fit a narrow panel.
            var bestSize = labelSize
            while bestSize > bodySize && measure(scores.rows[best].prompt, .bold, bestSize).width > innerWidth {
                bestSize = max(bodySize, bestSize * 5 / 6)
            }
            place(
                .bestLabel, scores.rows[best].prompt, style: .bold, pixelSize: bestSize,
                color: OverlayStyle.highlightText, x: innerLeft,
                y: panel.y + padding + bestHeight - lineHeight(.bold, bestSize), maxWidth: innerWidth)

            // Columns: label | bar | scaled % | probability. Narrow panels drop the probability, then the %.
            let percentWidth = measure("100 %", .regular, bodySize).width
            let probabilityWidth = measure("p 1.00", .regular, bodySize).width
            let minimumBar = max(8, innerWidth / 5)
            // Labels that share their first words ("a photo of a …") lose them when the full labels do not fit,
            // so that the rows stay told apart (the best prompt above is written whole).
            var labels = scores.rows.map(\.prompt)
            let fullWidest = shown.map { measure(labels[$0], .regular, bodySize).width }.max() ?? 0
            if fullWidest > innerWidth * 2 / 5 {
                labels = droppingCommonWords(labels, of: shown)
            }
            let widestLabel = shown.map { measure(labels[$0], .regular, bodySize).width }.max() ?? 0
            // The labels keep at least a third of the width (or all they need) before the numbers get any.
            let minimumLabel = min(widestLabel, innerWidth / 3)
            let showProbability =
                percentWidth + probabilityWidth + 3 * gap + minimumBar + minimumLabel <= innerWidth
            let showPercent = percentWidth + 2 * gap + minimumBar + minimumLabel <= innerWidth
            let fixed = gap + (showPercent ? percentWidth + gap : 0) + (showProbability ? probabilityWidth + gap : 0)
            let labelWidth = max(0, min(widestLabel, innerWidth / 2, innerWidth - fixed - minimumBar))
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
                    .rowLabel(index), labels[index], style: .regular, pixelSize: bodySize, color: textColor,
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
        }

        /// The banner centred over `area` (the video's region): the one part of the overlay that covers video, and
        /// only while it says something (paused, a prompt being typed, an error).
        mutating func bannerPanel(_ banner: String, over area: PixelRect) {
            let height = lineHeight(.bold, bannerSize)
            let y = max(area.y + padding, area.y + (area.height - height) / 2)
            let frame = place(
                .banner, banner, style: .bold, pixelSize: bannerSize, color: OverlayStyle.text,
                x: area.x + margin + padding, y: y, maxWidth: area.width - 2 * margin - 2 * padding)
            let centered = area.x + (area.width - frame.width) / 2
            texts[texts.count - 1].frame.x = centered
            let panel = PixelRect(
                x: centered - padding, y: y - padding, width: frame.width + 2 * padding, height: height + 2 * padding)
            backgrounds.append(FilledRect(rect: panel, color: OverlayStyle.panel))
        }
    }
}

/// `labels` without the leading words that all the labels at `indices` share (at least one word of each is kept);
/// unchanged when they share none or there is only one.
func droppingCommonWords(_ labels: [String], of indices: [Int]) -> [String] {
    guard indices.count > 1 else { return labels }
    let words = indices.map { labels[$0].split(separator: " ", omittingEmptySubsequences: false) }
    var common = 0
    while words.allSatisfy({ $0.count > common + 1 }) && Set(words.map { $0[common] }).count == 1 {
        common += 1
    }
    guard common > 0 else { return labels }
    var result = labels
    for (index, split) in zip(indices, words) {
        result[index] = split.dropFirst(common).joined(separator: " ")
    }
    return result
}

/// Pixels of a bar `width` wide filled for `percent` (0–100): exactly proportional, rounded to the nearest pixel.
public func filledWidth(_ percent: Double, of width: Int) -> Int {
    let clamped = min(100, max(0, percent.isFinite ? percent : 0))
    return Int((Double(width) * clamped / 100).rounded())
}
