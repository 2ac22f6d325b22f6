import Display

/// The last seconds of a live run's scores, one line per prompt, for the window's plot strip. Samples older than
/// twice the window are dropped in batches, so memory stays bounded however long the run lasts.
struct LivePlotHistory {
    /// Seconds the strip shows.
    let seconds: Double
    private(set) var times: [Double] = []
    private(set) var labels: [String] = []
    /// Scaled scores (0–100 %), one array per label, each as long as `times`.
    private(set) var values: [[Float]] = []

    init(seconds: Double) {
        precondition(seconds > 0, "a plot needs a time span")
        self.seconds = seconds
    }

    /// Adds a result. A prompt set that changed keeps the lines of prompts still there (a new prompt's line starts
    /// now); a timestamp earlier than the last (a looping file starting again) starts the history again.
    mutating func append(_ result: FrameResult) {
        if let last = times.last, result.timestamp < last {
            times.removeAll(keepingCapacity: true)
            for i in values.indices { values[i].removeAll(keepingCapacity: true) }
        }
        let prompts = result.scores.map(\.prompt)
        if prompts != labels {
            let old = Dictionary(zip(labels, values), uniquingKeysWith: { first, _ in first })
            values = prompts.map { old[$0] ?? Array(repeating: .nan, count: times.count) }
            labels = prompts
        }
        times.append(result.timestamp)
        for (i, score) in result.scores.enumerated() { values[i].append(score.percent) }
        // Keep one sample before the window so the line reaches its left edge.
        if let first = times.first, result.timestamp - first > 2 * seconds {
            let drop = PlotStrip.firstIndex(times, atLeast: result.timestamp - seconds) - 1
            if drop > 0 {
                times.removeFirst(drop)
                for i in values.indices { values[i].removeFirst(drop) }
            }
        }
    }

    /// The strip's data: the last `seconds` up to the newest sample, lines of `hidden` prompts (indices) hidden,
    /// the threshold (scaled %) as a line.
    func data(hidden: Set<Int>, threshold: Float?) -> PlotData {
        let end = max(times.last ?? 0, seconds)
        let series = labels.indices.map { i in
            PlotSeries(label: labels[i], values: values[i], visible: !hidden.contains(i))
        }
        return PlotData(
            times: times, series: series, yRange: 0...100, unit: .percent, timeRange: (end - seconds)...end,
            threshold: threshold)
    }
}
