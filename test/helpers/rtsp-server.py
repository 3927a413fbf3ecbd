#!/usr/bin/python3
"""A real RTSP server for the Streaming plugin's rtsp tests, built on GStreamer's RTSP server library
(gir1.2-gst-rtsp-server-1.0): VP8 test pattern + Opus tone at rtsp://127.0.0.1:<port>/test, optionally
behind Basic or Digest auth. Prints "READY <port>" once listening; runs until killed.

usage: rtsp-server.py PORT [basic|digest|none] [USER PASS] [tcp]
("tcp": the server offers RTP interleaved on the RTSP connection only; a UDP SETUP gets 461.)
"""
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtsp', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

port = sys.argv[1]
auth_kind = sys.argv[2] if len(sys.argv) > 2 else 'none'
user = sys.argv[3] if len(sys.argv) > 3 else 'user'
password = sys.argv[4] if len(sys.argv) > 4 else 'pass'
tcp_only = len(sys.argv) > 5 and sys.argv[5] == 'tcp'

Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    '( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 '
    '! vp8enc deadline=1 keyframe-max-dist=30 target-bitrate=300000 ! rtpvp8pay name=pay0 pt=96 '
    'audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample ! opusenc ! rtpopuspay name=pay1 pt=97 )'
)
factory.set_shared(True)
if tcp_only:
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
if auth_kind != 'none':
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, 'viewer')
    if auth_kind == 'digest':
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.add_digest(user, password, token)
    else:
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    perms = GstRtspServer.RTSPPermissions()
    perms.add_role('viewer')
    perms.add_permission_for_role('viewer', GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
    perms.add_permission_for_role('viewer', GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
    factory.set_permissions(perms)
server.get_mount_points().add_factory('/test', factory)
if server.attach(None) == 0:
    print('ERROR cannot listen', flush=True)
    sys.exit(1)
print('READY %s' % port, flush=True)
GLib.MainLoop().run()
