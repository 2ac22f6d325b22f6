// The one definition of clipcam's displayed score, shared by the window (Display) and the text outputs
// (Classifier), which must not depend on each other.

/// Maps a cosine similarity linearly from `range` onto 0–100 %, clamping values outside the range; a cosine that
/// is not finite reads 0. CLIP cosines of matching image–text pairs sit around 0.25–0.35 for ViT-B/32, so the raw
/// value reads poorly; the default range 0.15–0.40 spreads the useful part over the whole bar.
public func scaledPercent(cosine: Float, range: ClosedRange<Float>) -> Double {
    precondition(range.upperBound > range.lowerBound, "scaling range \(range) is empty")
    guard cosine.isFinite else { return 0 }
    let fraction = (Double(cosine) - Double(range.lowerBound)) / (Double(range.upperBound) - Double(range.lowerBound))
    return min(1, max(0, fraction)) * 100
}
