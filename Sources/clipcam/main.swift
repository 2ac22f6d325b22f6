print("clipcam")
