import Display

/// What the investigate window does, apart from drawing: the current time, play/pause, seeking (keys, clicks and
/// drags on the plot), hidden lines and a prompt being typed. A plain value with no SDL in it, so that tests can
/// drive it with events and read the result; the window carries out the actions it returns.
public struct InvestigateState: Sendable {
    /// What the window must do after an event.
    public enum Action: Equatable, Sendable {
        /// Show the frame at this time at once (and go on playing from there when playing).
        case seek(Double)
        /// Start playing from the current time.
        case play
        case pause
        /// Encode this prompt's text and add its line.
        case addPrompt(String)
        case quit
    }

    /// The video's length in seconds.
    public let duration: Double
    /// Seconds between sampled (encoded) frames.
    public let sampleStep: Double
    /// The time of the frame shown.
    public private(set) var time: Double = 0
    public private(set) var playing = false
    /// The prompts, in the order of their lines.
    public private(set) var prompts: [String]
    /// Indices of prompts whose lines are hidden.
    public private(set) var hidden: Set<Int> = []
    /// The prompt being typed after `/`, or nil.
    public private(set) var draft: String?
    /// A click on the plot went down and the button is still held: moves seek.
    public private(set) var dragging = false

    public init(duration: Double, sampleStep: Double, prompts: [String]) {
        precondition(sampleStep > 0, "frames are sampled at a positive step")
        self.duration = max(0, duration)
        self.sampleStep = sampleStep
        self.prompts = prompts
    }

    /// The time of the last sampled frame.
    public var lastSampleTime: Double {
        guard duration > 0 else { return 0 }
        return max(0, ((duration - 1e-9) / sampleStep).rounded(.down) * sampleStep)
    }

    /// The sampled frame's time nearest to `t`, within the video.
    public func snapped(_ t: Double) -> Double {
        let index = (min(max(t, 0), lastSampleTime) / sampleStep).rounded()
        return min(lastSampleTime, index * sampleStep)
    }

    /// Playback reached `t` (the time of the frame now shown).
    public mutating func played(to t: Double) {
        time = min(max(t, 0), duration)
    }

    /// Playback reached the end of the video.
    public mutating func reachedEnd() {
        playing = false
    }

    /// A prompt's line was added (after `addPrompt`).
    public mutating func added(prompt: String) {
        if !prompts.contains(prompt) { prompts.append(prompt) }
    }

    /// Applies `event`; `plot` is the layout of the plot strip as last drawn (clicks on it seek, clicks on its
    /// legend toggle a line). Returns what the window must do.
    public mutating func handle(_ event: DisplayEvent, plot: PlotLayout?) -> [Action] {
        switch event {
        case .quit:
            return [.quit]
        case .togglePause:
            playing.toggle()
            if playing && time >= lastSampleTime {
                // Play again from the start once at the end.
                time = 0
                return [.seek(0), .play]
            }
            return [playing ? .play : .pause]
        case .step(let count):
            return seek(to: snapped(snapped(time) + Double(count) * sampleStep))
        case .skip(let seconds):
            return seek(to: snapped(time + seconds))
        case .toStart:
            return seek(to: 0)
        case .toEnd:
            return seek(to: lastSampleTime)
        case .toggleSeries(let index):
            toggle(index)
            return []
        case .press(let x, let y):
            guard let plot else { return [] }
            if let series = plot.legendEntry(atX: x, y: y) {
                toggle(series)
                return []
            }
            guard plot.rect.contains(x: x, y: y), y >= plot.geometry.plot.y else { return [] }
            dragging = true
            return seek(to: snapped(plot.geometry.time(x: x)))
        case .drag(let x, _):
            guard dragging, let plot else { return [] }
            return seek(to: snapped(plot.geometry.time(x: x)))
        case .release:
            dragging = false
            return []
        case .promptDraft(let text):
            draft = text
            return []
        case .promptCancelled:
            draft = nil
            return []
        case .newPrompt(let text):
            draft = nil
            return prompts.contains(text) ? [] : [.addPrompt(text)]
        case .nextPrompt, .resized, .togglePlot:
            return []
        }
    }

    private mutating func toggle(_ index: Int) {
        guard prompts.indices.contains(index) else { return }
        if hidden.contains(index) { hidden.remove(index) } else { hidden.insert(index) }
    }

    private mutating func seek(to t: Double) -> [Action] {
        time = t
        return [.seek(t)]
    }
}
