"""A PACS round trip over DICOMweb (``apn predict --dicomweb URL``): find the images
(QIDO-RS), retrieve them (WADO-RS), predict with ``--sr``, and store each SR and
presentation state back into its study (STOW-RS) — once: what the server already holds
(same derived SOP Instance UID, :mod:`apn_core.dicom_out.source`) is not sent again.

- :mod:`~apn_core.dicomweb.server`: the connection and its authentication;
- :mod:`~apn_core.dicomweb.query`: which images a query names;
- :mod:`~apn_core.dicomweb.job`: retrieve, predict, store.

Uses the optional ``dicomweb-client`` and ``highdicom`` (``pip install "napari-apn[dicom]"``).
"""
