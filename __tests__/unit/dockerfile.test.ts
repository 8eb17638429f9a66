import { describe, expect, it } from '@jest/globals'

import { fromImages } from '../../src/core/dockerfile.js'

describe('fromImages', () => {
  it('lists the images the FROM lines name, leaving out build stages, scratch and repeats', () => {
    const dockerfile = [
      'FROM --platform=linux/amd64 golang:1.23 AS Build',
      'RUN go build ./...',
      'FROM build AS test',
      'FROM scratch AS empty',
      'FROM fedora:41',
      'COPY --from=build /out /usr/local/bin/',
      'FROM golang:1.23'
    ].join('\n')
    expect(fromImages(dockerfile, [])).toEqual(['golang:1.23', 'fedora:41'])
  })

  it('fills in the ARG lines before the first FROM, build args first', () => {
    const dockerfile = 'ARG RELEASE=41\nARG REGISTRY\nARG FLAVOR\nFROM ${REGISTRY:-docker.io}/fedora:$RELEASE${FLAVOR:+-$FLAVOR}\n'
    expect(fromImages(dockerfile, [])).toEqual(['docker.io/fedora:41'])
    expect(fromImages(dockerfile, ['RELEASE=40', 'REGISTRY=quay.io', 'FLAVOR=minimal'])).toEqual(['quay.io/fedora:40-minimal'])
  })

  it('fills in an ARG default from the ARG lines before it, and operators on names no ARG declares', () => {
    const dockerfile = 'ARG REGISTRY=docker.io\nARG BASE=${REGISTRY}/debian\nFROM ${BASE}:${SUITE:-bookworm}${EXTRA:+-x}\n'
    expect(fromImages(dockerfile, [])).toEqual(['docker.io/debian:bookworm'])
    expect(fromImages(dockerfile, ['REGISTRY=quay.io'])).toEqual(['quay.io/debian:bookworm'])
    expect(fromImages(dockerfile, ['BASE=example.com/debian'])).toEqual(['example.com/debian:bookworm'])
  })

  it('keeps a reference whose variable has no value, and ignores build args no ARG declares', () => {
    expect(fromImages('ARG BASE\nFROM $BASE\n', [])).toEqual(['$BASE'])
    expect(fromImages('FROM debian:${SUITE}\n', ['SUITE=trixie'])).toEqual(['debian:${SUITE}'])
  })

  it('follows line continuations and comments', () => {
    expect(fromImages('# syntax=docker/dockerfile:1\n# a comment\nFROM \\\n  debian:bookworm\n', [])).toEqual(['debian:bookworm'])
  })
})
