"""The training side: from folders of illustrations to an ONNX character classifier.

    prepare   raw illustrations → face crops split into train/ and test/   (export.prepare)
    train     crops → a Keras classifier (.keras)                           (export.train)
    evaluate  a .keras or .onnx classifier on a test folder                 (export.evaluate)
    export    .keras → .onnx with the runtime's metadata, parity-checked    (export.onnx_export)

Only this package imports TensorFlow; the runtime (`streamer`) meets it through the ONNX file
and `streamer.model_contract`. Importing `export` itself loads nothing heavy: modules that
need TensorFlow (train, layers, onnx_export, evaluate of .keras files) import it themselves,
quietly, through `export.tf_runtime`.
"""
