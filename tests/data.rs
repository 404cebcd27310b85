//! Loaders: IDX files, photos, preprocessing, normalisation.

use std::io::Write;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use image::{Rgb, RgbImage};
use learnprop::data::{
    load_photo, parse_idx, preprocess_photo, read_idx, LabelledImages, Normalisation,
    PhotoPreprocessing, Split,
};
use learnprop::render::{rgb_image, DisplayRange};
use learnprop::Error;

type B = learnprop::backend::Base<learnprop::Cpu>;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("learnprop-data-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn idx(dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(body);
    bytes
}

#[test]
fn idx_files_parse_and_malformed_ones_are_errors() {
    let ok = parse_idx(&idx(&[2, 3], &[1, 2, 3, 4, 5, 6])).unwrap();
    assert_eq!(ok.dims, vec![2, 3]);
    assert_eq!(ok.data, vec![1, 2, 3, 4, 5, 6]);

    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![0, 0], "truncated header"),
        (vec![1, 0, 8, 1, 0, 0, 0, 1, 7], "bad magic"),
        (
            vec![0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0],
            "element type 0x0d",
        ),
        (vec![0, 0, 8, 0], "zero dimensions"),
        (vec![0, 0, 8, 2, 0, 0, 0, 1], "truncated header"),
        (idx(&[2, 3], &[1, 2, 3, 4, 5]), "truncated data"),
        (idx(&[2, 3], &[0; 7]), "unexpected bytes"),
    ];
    for (bytes, message) in cases {
        let err = parse_idx(&bytes).unwrap_err();
        assert!(err.contains(message), "{err:?} should mention {message:?}");
    }
}

#[test]
fn idx_files_read_raw_or_gzipped_and_report_the_path() {
    let dir = temp_dir("idx");
    let raw = dir.join("a-idx1-ubyte");
    std::fs::write(&raw, idx(&[4], &[9, 8, 7, 6])).unwrap();
    let gz = dir.join("a-idx1-ubyte.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    encoder.write_all(&idx(&[4], &[9, 8, 7, 6])).unwrap();
    encoder.finish().unwrap();
    assert_eq!(read_idx(&raw).unwrap(), read_idx(&gz).unwrap());

    let corrupt = dir.join("corrupt.gz");
    std::fs::write(&corrupt, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
    match read_idx(&corrupt) {
        Err(Error::Dataset { path, message }) => {
            assert_eq!(path, corrupt);
            assert!(message.contains("gzip"), "{message}");
        }
        other => panic!("expected a dataset error, got {other:?}"),
    }
    let missing = read_idx(dir.join("absent"));
    assert!(matches!(missing, Err(Error::Io { .. })), "{missing:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn labelled_images_check_counts_and_indices() {
    let images = parse_idx(&idx(&[3, 2, 2], &(0..12).collect::<Vec<u8>>())).unwrap();
    let labels = parse_idx(&idx(&[3], &[5, 6, 7])).unwrap();
    let set = LabelledImages::from_idx(images.clone(), labels).unwrap();
    assert_eq!((set.len(), set.image_shape()), (3, [1, 2, 2]));
    assert_eq!(set.pixels(1).unwrap(), &[4, 5, 6, 7]);
    let sub = set.subset(&[2, 0]).unwrap();
    assert_eq!(sub.labels(), &[7, 5]);
    assert!(matches!(set.subset(&[3]), Err(Error::Shape { .. })));

    let device = Default::default();
    let t = set
        .tensor::<B>(&[1], &Normalisation::identity(1), &device)
        .unwrap();
    let v: Vec<f32> = t.into_data().iter::<f32>().collect();
    assert_eq!(v, vec![4.0 / 255.0, 5.0 / 255.0, 6.0 / 255.0, 7.0 / 255.0]);
    let n = Normalisation::mnist();
    let t = set.tensor::<B>(&[0], &n, &device).unwrap();
    let first: f32 = t.slice([0..1, 0..1, 0..1, 0..1]).into_scalar();
    assert!((first as f64 - (0.0 - 0.1307) / 0.3081).abs() < 1e-6);
    assert!(set
        .tensor::<B>(&[0], &Normalisation::imagenet(), &device)
        .is_err());

    let wrong_count = parse_idx(&idx(&[2], &[1, 2])).unwrap();
    assert!(matches!(
        LabelledImages::from_idx(images, wrong_count),
        Err(Error::Shape { .. })
    ));
    let flat = parse_idx(&idx(&[3], &[1, 2, 3])).unwrap();
    let labels = parse_idx(&idx(&[3], &[1, 2, 3])).unwrap();
    assert!(LabelledImages::from_idx(flat, labels).is_err());
}

#[test]
fn mnist_layout_directories_load_and_missing_files_are_named() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mnist");
    let digits = LabelledImages::load_idx(
        fixtures.join("mnist-test-images-idx3-ubyte.gz"),
        fixtures.join("mnist-test-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    assert_eq!(digits.len(), 32);
    assert_eq!(digits.image_shape(), [1, 28, 28]);
    assert_eq!(&digits.labels()[..5], &[7, 2, 1, 0, 4]);
    match LabelledImages::load_mnist_layout(&fixtures, Split::Train) {
        Err(Error::Io { path, .. }) => {
            assert!(path.to_string_lossy().contains("train-images-idx3-ubyte"))
        }
        other => panic!("expected a missing-file error, got {other:?}"),
    }
}

#[test]
fn photos_load_and_unreadable_files_are_errors() {
    let dir = temp_dir("photos");
    let path = dir.join("gradient.png");
    RgbImage::from_fn(40, 30, |x, y| Rgb([(x * 6) as u8, (y * 8) as u8, 100]))
        .save(&path)
        .unwrap();
    let photo = load_photo(&path).unwrap();
    assert_eq!(photo.dimensions(), (40, 30));
    let junk = dir.join("junk.jpg");
    std::fs::write(&junk, b"definitely not a jpeg").unwrap();
    assert!(matches!(load_photo(&junk), Err(Error::Image { .. })));
    assert!(matches!(
        load_photo(dir.join("absent.png")),
        Err(Error::Io { .. })
    ));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn preprocessing_resizes_crops_normalises_and_inverts() {
    let device = Default::default();
    // 400 × 300: the shorter side becomes 256, the longer int(256·400/300) = 341.
    let photo = RgbImage::from_fn(400, 300, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let prep = PhotoPreprocessing::imagenet();
    let resized = prep.resize_and_crop(&photo).unwrap();
    assert_eq!(resized.dimensions(), (224, 224));
    let x = preprocess_photo::<B>(&photo, &prep, &device).unwrap();
    assert_eq!(x.dims(), [1, 3, 224, 224]);
    // Blue is constant 128 everywhere: (128/255 − 0.406) / 0.225.
    let blue: Vec<f32> = x
        .clone()
        .slice([0..1, 2..3])
        .into_data()
        .iter::<f32>()
        .collect();
    let expected = (128.0 / 255.0 - 0.406) / 0.225;
    assert!(blue.iter().all(|v| (*v as f64 - expected).abs() < 1e-5));
    // Undoing the normalisation gives the cropped picture back.
    let shown = rgb_image(x.squeeze_dim::<3>(0), &prep.normalisation.display_range()).unwrap();
    assert_eq!(shown, resized);

    // No resizing and no crop keeps the picture.
    let keep = PhotoPreprocessing {
        resize_shorter: None,
        crop: None,
        normalisation: Normalisation::identity(3),
    };
    assert_eq!(
        preprocess_photo::<B>(&photo, &keep, &device)
            .unwrap()
            .dims(),
        [1, 3, 300, 400]
    );
    let too_big = PhotoPreprocessing {
        crop: Some([400, 400]),
        ..keep.clone()
    };
    assert!(matches!(
        too_big.resize_and_crop(&photo),
        Err(Error::Shape { .. })
    ));
    let grey_norm = PhotoPreprocessing {
        normalisation: Normalisation::mnist(),
        ..keep
    };
    assert!(preprocess_photo::<B>(&photo, &grey_norm, &device).is_err());
    assert!(matches!(
        rgb_image(
            Tensor::<B, 3>::zeros([2, 4, 4], &device),
            &DisplayRange::MinMax
        ),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn normalisation_round_trips() {
    let device = Default::default();
    let x = Tensor::<B, 4>::from_floats([[[[0.0, 0.5]], [[1.0, 0.25]], [[0.75, 0.1]]]], &device);
    let n = Normalisation::efficientnet_lite();
    let back = n.denormalise(n.normalise(x.clone()).unwrap()).unwrap();
    let err: f32 = (back - x.clone()).abs().max().into_scalar();
    assert!(err < 1e-6);
    let v: Vec<f32> = n.normalise(x).unwrap().into_data().iter::<f32>().collect();
    assert!((v[0] as f64 - (-127.0 / 128.0)).abs() < 1e-6);
}
