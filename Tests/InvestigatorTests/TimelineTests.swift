import Testing

@testable import Investigator

@Suite struct TimelineTests {
    @Test func segmentsCoverRunsAtOrAboveTheThreshold() {
        let times = (0..<8).map(Double.init)
        let values: [Float] = [0, 5, 6, 1, 7, 7, 9, 0]
        let found = Timeline.segments(values, times: times, interval: 1, threshold: 5, minLength: 0)
        #expect(
            found == [
                Segment(start: 1, end: 3, peakTime: 2, peakValue: 6),
                Segment(start: 4, end: 7, peakTime: 6, peakValue: 9),
            ])
        #expect(Timeline.segments(values, times: times, interval: 1, threshold: 5, minLength: 3).count == 1)
    }

    @Test func centredAverageUsesNeighboursOnBothSides() {
        let out = Timeline.centredAverage([0, 0, 3, 0, 0], window: 3)
        #expect(out == [0, 1, 1, 1, 0])
        #expect(Timeline.centredAverage([1, 2], window: 1) == [1, 2])
    }

    @Test func aTimelineFromDisplayValuesKeepsThemForDrawing() {
        let segments = [[Segment(start: 1, end: 2, peakTime: 1, peakValue: 80)], []]
        let timeline = Timeline(
            file: "v.mp4", times: [0, 1, 2], interval: 1, labels: ["a", "b"], values: [[10, 80, 20], [5, 5, 5]],
            isRaw: false, threshold: 50, segments: segments)
        #expect(timeline.segmentRanges.map { $0.map(\.start) } == [[1], []])
        #expect(timeline.segmentRanges.map { $0.map(\.end) } == [[2], []])
        #expect(timeline.values[0] == [10, 80, 20])
        #expect(timeline.cosines == [[], []])
    }

    @Test func scoringEmbeddingsGivesCosinesPercentAndSegments() {
        var embeddings = FrameEmbeddings(dimension: 2, interval: 0.5)
        for (k, v) in [[1, 0], [0.6, 0.8], [0, 1], [0.8, 0.6]].enumerated() {
            embeddings.append(time: Double(k) * 0.5, frame: k * 5, embedding: v.map(Float.init))
        }
        let timeline = Timeline(
            file: "v", embeddings: embeddings, prompts: [("up", [0, 1])], range: .init(low: 0, high: 1), isRaw: false,
            threshold: 70, smooth: 1, minLength: 0)
        #expect(timeline.cosines == [[0, 0.8, 1, 0.6]])
        #expect(timeline.values[0].map { ($0 * 1000).rounded() / 1000 } == [0, 80, 100, 60])
        #expect(timeline.segments == [[Segment(start: 0.5, end: 1.5, peakTime: 1.0, peakValue: 100)]])
        #expect(timeline.frames == [0, 5, 10, 15])
    }
}
