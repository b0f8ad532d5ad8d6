"""Small pieces shared by every stage: config, frames, flow files, images, atomic outputs."""
