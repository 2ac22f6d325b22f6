/// A stretch of time during which a prompt matched (e.g. its score stayed above the threshold), in seconds.
public struct PlotSegment: Equatable, Sendable {
    public var start: Double
    public var end: Double

    public init(start: Double, end: Double) {
        self.start = start
        self.end = end
    }
}

/// One prompt's line in a plot strip.
public struct PlotSeries: Sendable {
    /// The prompt, shown (shortened) in the legend.
    public var label: String
    /// One value per entry of `PlotData.times`, in the plot's y units; NaN where there is none (a gap).
    public var values: [Float]
    /// Hidden series keep their colour and legend entry (dimmed) but draw no line or segments.
    public var visible: Bool
    /// Stretches shaded in the series' colour.
    public var segments: [PlotSegment]
    /// The line's colour; nil takes the palette's colour for the series' index.
    public var color: Color?

    public init(
        label: String, values: [Float], visible: Bool = true, segments: [PlotSegment] = [], color: Color? = nil
    ) {
        self.label = label
        self.values = values
        self.visible = visible
        self.segments = segments
        self.color = color
    }
}

/// What the y values are, for the axis labels.
public enum PlotUnit: Sendable {
    /// Scaled scores, 0–100 %: labels "50 %".
    case percent
    /// Raw cosines: labels "0.25".
    case cosine
}

/// Everything a plot strip shows, as a plain value that the live pipeline or an analysis fills in: one line per
/// prompt over time, the current time, a threshold, shaded segments.
public struct PlotData: Sendable {
    /// Sample times in seconds, ascending; every series has one value per time.
    public var times: [Double]
    public var series: [PlotSeries]
    /// The values at the bottom and top of the plot (values outside are clamped to its edges).
    public var yRange: ClosedRange<Float>
    public var unit: PlotUnit
    /// The times at the left and right edges: 0…duration for a file, the last N seconds for a live run.
    public var timeRange: ClosedRange<Double>
    /// The current time, drawn as a vertical line; nil for none.
    public var cursor: Double?
    /// Drawn as a dashed horizontal line, in y units; nil for none.
    public var threshold: Float?
    /// A short note shown at the right of the legend ("encoding 42 %").
    public var note: String?

    public init(
        times: [Double], series: [PlotSeries], yRange: ClosedRange<Float> = 0...100, unit: PlotUnit = .percent,
        timeRange: ClosedRange<Double>, cursor: Double? = nil, threshold: Float? = nil, note: String? = nil
    ) {
        precondition(series.allSatisfy { $0.values.count == times.count }, "every series needs one value per time")
        self.times = times
        self.series = series
        self.yRange = yRange
        self.unit = unit
        self.timeRange = timeRange
        self.cursor = cursor
        self.threshold = threshold
        self.note = note
    }

    /// A plot of a file `duration` seconds long (0…duration).
    public init(
        times: [Double], series: [PlotSeries], yRange: ClosedRange<Float> = 0...100, unit: PlotUnit = .percent,
        duration: Double, cursor: Double? = nil, threshold: Float? = nil, note: String? = nil
    ) {
        self.init(
            times: times, series: series, yRange: yRange, unit: unit, timeRange: 0...max(duration, 1e-3),
            cursor: cursor, threshold: threshold, note: note)
    }

    /// The colour series `index` is drawn in.
    public func color(ofSeries index: Int) -> Color {
        series[index].color ?? PlotPalette.color(index)
    }
}

/// Line colours: the Okabe–Ito palette (Okabe & Ito 2008, "Color Universal Design"), whose colours stay distinct for
/// the common colour-vision deficiencies, without its black (the plot's background is dark), followed by three of
/// Tableau 10's (pink, brown, grey) for the 8th to 10th prompt; after ten the colours repeat.
public enum PlotPalette {
    public static let colors: [Color] = [
        Color(red: 0xE6, green: 0x9F, blue: 0x00),  // orange
        Color(red: 0x56, green: 0xB4, blue: 0xE9),  // sky blue
        Color(red: 0x00, green: 0x9E, blue: 0x73),  // bluish green
        Color(red: 0xF0, green: 0xE4, blue: 0x42),  // yellow
        Color(red: 0x00, green: 0x72, blue: 0xB2),  // blue
        Color(red: 0xD5, green: 0x5E, blue: 0x00),  // vermillion
        Color(red: 0xCC, green: 0x79, blue: 0xA7),  // reddish purple
        Color(red: 0xFF, green: 0x9D, blue: 0xA7),  // Tableau pink
        Color(red: 0x9C, green: 0x75, blue: 0x5F),  // Tableau brown
        Color(red: 0xBA, green: 0xB0, blue: 0xAC),  // Tableau grey
    ]

    public static func color(_ index: Int) -> Color {
        colors[((index % colors.count) + colors.count) % colors.count]
    }
}

/// The strip's own colours.
public enum PlotStyle {
    /// Behind the legend and the axes' labels.
    public static let background = Color(red: 16, green: 16, blue: 16)
    /// Behind the lines.
    public static let plotBackground = Color(red: 30, green: 30, blue: 30)
    public static let grid = Color(red: 58, green: 58, blue: 58)
    public static let axisText = Color(red: 190, green: 190, blue: 190)
    public static let cursor = Color.white
    /// The threshold's dashes.
    public static let threshold = Color(red: 235, green: 235, blue: 235)
    /// Alpha of a segment's shade over the plot background.
    public static let segmentAlpha: UInt8 = 56
    /// Legend text of a hidden series.
    public static let hiddenText = Color(red: 110, green: 110, blue: 110)
}
