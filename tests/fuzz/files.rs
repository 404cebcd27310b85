//! Bytes of every file format the crate reads.

use learnprop::data::parse_idx;
use learnprop::render::RgbImage;
use learnprop::weights::WeightFile;
use learnprop::Cpu;
use proptest::prelude::*;

use crate::{config, finite, fixture, repo, scratch, Plain};

proptest! {
    #![proptest_config(config())]

    /// IDX bytes: valid headers with any dimensions and any payload length,
    /// and plain noise.
    #[test]
    fn idx_bytes(
        kind in prop_oneof![Just(0x08u8), Just(0x09), Just(0x0b), Just(0x0c), Just(0x0d), Just(0x0e), any::<u8>()],
        dims in prop::collection::vec(prop_oneof![0u32..6, Just(u32::MAX), Just(1 << 20)], 0..5),
        payload in prop::collection::vec(any::<u8>(), 0..200),
        noise in prop::collection::vec(any::<u8>(), 0..64),
        use_noise in any::<bool>(),
    ) {
        let bytes = if use_noise {
            noise
        } else {
            let mut b = vec![0, 0, kind, dims.len() as u8];
            for d in &dims {
                b.extend_from_slice(&d.to_be_bytes());
            }
            b.extend_from_slice(&payload);
            b
        };
        if let Ok(array) = parse_idx(&bytes) {
            let count = array.dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            prop_assert_eq!(count, Some(array.data.len()));
        }
    }

    /// Photo bytes: PNG and JPEG signatures followed by noise, and truncated
    /// real encodings, loaded and preprocessed.
    #[test]
    fn photo_bytes(
        signature in prop_oneof![
            Just(vec![0x89u8, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]),
            Just(vec![0xffu8, 0xd8, 0xff, 0xe0]),
            Just(Vec::<u8>::new()),
        ],
        body in prop::collection::vec(any::<u8>(), 0..300),
        cut in 0usize..400,
        real in any::<bool>(),
    ) {
        let bytes = if real {
            let mut png = Vec::new();
            let picture = RgbImage::from_fn(9, 7, |x, y| image::Rgb([x as u8 * 20, y as u8 * 30, 7]));
            picture.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
            png.truncate(cut.min(png.len()));
            png
        } else {
            [signature, body].concat()
        };
        let path = scratch("photo.png");
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(photo) = learnprop::data::load_photo(&path) {
            let prep = learnprop::data::PhotoPreprocessing::imagenet();
            if let Ok(x) = learnprop::data::preprocess_photo::<Plain>(&photo, &prep, &Default::default()) {
                prop_assert!(finite(&x));
            }
        }
    }

    /// Weight files: the fixture's safetensors and half-precision `.pth`
    /// files truncated and with bytes overwritten, loaded into the model.
    #[test]
    fn weight_file_bytes(
        file in prop_oneof![
            Just("tests/fixtures/captum/model-b.safetensors"),
            Just("tests/fixtures/weights/model-b-f16.pth"),
            Just("tests/fixtures/weights/model-b-f16-legacy.pth"),
        ],
        cut in prop_oneof![Just(usize::MAX), 0usize..80_000],
        edits in prop::collection::vec((0usize..80_000, any::<u8>()), 0..6),
    ) {
        let mut bytes = std::fs::read(repo(file)).unwrap();
        bytes.truncate(cut.min(bytes.len()));
        for (at, value) in edits {
            if let Some(b) = bytes.get_mut(at) {
                *b = value;
            }
        }
        let extension = if file.ends_with(".pth") { "pth" } else { "safetensors" };
        let path = scratch(&format!("weights.{extension}"));
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(model) = WeightFile::new(&path).load(fixture()) {
            prop_assert!(learnprop::input::check_weights(&model).is_ok());
        }
    }

    /// Safetensors headers naming any element type, shape and offsets.
    #[test]
    fn safetensors_headers(
        dtype in prop_oneof![
            Just("F16"), Just("BF16"), Just("F32"), Just("F64"), Just("I64"),
            Just("I32"), Just("U8"), Just("BOOL"), Just("F8_E4M3"), Just("XX"),
        ],
        shape in prop::collection::vec(prop_oneof![0usize..5, Just(8), Just(usize::MAX)], 0..5),
        offsets in prop::array::uniform2(prop_oneof![0usize..600, Just(usize::MAX)]),
        payload in 0usize..700,
    ) {
        let shape: Vec<String> = shape.iter().map(usize::to_string).collect();
        let header = format!(
            r#"{{"fc2.bias":{{"dtype":"{dtype}","shape":[{}],"data_offsets":[{},{}]}}}}"#,
            shape.join(","),
            offsets[0],
            offsets[1]
        );
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend(std::iter::repeat_n(0x3c, payload));
        let path = scratch("header.safetensors");
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(model) = WeightFile::new(&path).load(fixture()) {
            prop_assert!(learnprop::input::check_weights(&model).is_ok());
        }
    }

    /// ONNX bytes: a real export with bytes overwritten, cut, or replaced by
    /// noise; what loads must run (or fail with an error) on a batch.
    #[test]
    fn onnx_bytes(
        edits in prop::collection::vec((0usize..200_000, any::<u8>()), 0..6),
        cut in prop_oneof![Just(usize::MAX), 0usize..160_000],
        noise in prop::collection::vec(any::<u8>(), 0..64),
        use_noise in any::<bool>(),
    ) {
        let bytes = if use_noise {
            noise
        } else {
            let mut b = std::fs::read(repo("tests/fixtures/onnx/fixture-cnn-op18.onnx")).unwrap();
            for (at, byte) in edits {
                let at = at % b.len();
                b[at] = byte;
            }
            b.truncate(cut);
            b
        };
        if let Ok(model) = learnprop::onnx::OnnxModel::<Cpu>::from_bytes("fuzz.onnx", &bytes, &Default::default()) {
            use learnprop::method::Method;
            let images = burn::tensor::Tensor::<Cpu, 4>::ones([2, 3, 32, 32], &Default::default());
            let _ = learnprop::method::Saliency::signed().attribute(&model, &images, &[0, 1]);
        }
    }
}
