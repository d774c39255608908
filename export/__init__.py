"""The training side, `streamer.training`: from folders of illustrations to an ONNX character classifier.

    prepare   raw illustrations → face crops split into train/ and test/   (streamer.training.prepare)
    train     crops → a Keras classifier (.keras)                           (streamer.training.train)
    evaluate  a .keras or .onnx classifier on a test folder                 (streamer.training.evaluate)
    export    .keras → .onnx with the runtime's metadata, parity-checked    (streamer.training.onnx_export)

The folder is export/; setup.cfg installs it as `streamer.training` (package_dir), so it takes
no generic top-level name. Only this package imports TensorFlow; the runtime meets it through
the ONNX file and `streamer.model_contract`, and the command line through `config` (the
settings and their defaults, TensorFlow-free). Importing `streamer.training` itself loads
nothing heavy: modules that need TensorFlow (train, layers, onnx_export, evaluate of .keras
files) import it themselves, quietly, through `streamer.training.tf_runtime`.
"""
