//! `AttractAdapter`: the badges on offer and the camera preview.

use slint::{ComponentHandle, Image, ModelRc, Rgb8Pixel, SharedPixelBuffer, VecModel};

use crate::app::controller::View;
use crate::{AppWindow, AttractAdapter};

/// Where a detected code sits in the preview, as fractions of its width and height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outline {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

pub fn apply(window: &AppWindow, view: &View) {
    let adapter = window.global::<AttractAdapter>();
    if adapter.get_badge_images().row_count() == 0 {
        let images: Vec<Image> = view
            .event
            .definition
            .badges
            .iter()
            .map(|badge| super::image(&view.event.image_path(&badge.image)))
            .collect();
        adapter.set_badge_images(ModelRc::new(VecModel::from(images)));
    }
}

/// Shows a camera frame (UI thread only; see `super::KioskHandle::show_frame`).
pub fn show_frame(window: &AppWindow, frame: SharedPixelBuffer<Rgb8Pixel>, outline: Option<Outline>) {
    let adapter = window.global::<AttractAdapter>();
    adapter.set_preview(Image::from_rgb8(frame));
    adapter.set_has_outline(outline.is_some());
    if let Some(outline) = outline {
        adapter.set_outline_x(outline.x);
        adapter.set_outline_y(outline.y);
        adapter.set_outline_width(outline.width);
        adapter.set_outline_height(outline.height);
    }
}

use slint::Model;
