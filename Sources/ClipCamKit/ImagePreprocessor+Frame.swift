import Capture
import Classifier

extension ImagePreprocessor {
    /// Returns the 3*S*S CLIP pixel tensor of `frame` (allocates a workspace; the encoder loop uses the
    /// pointer form with its own `PreprocessWorkspace` instead).
    public func preprocess(_ frame: Frame) -> [Float] {
        preprocess(bgr: frame.bgr, width: frame.width, height: frame.height)
    }
}
