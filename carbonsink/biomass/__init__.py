"""Biomass stage: plot features, estimators with intervals, spatial CV, area of applicability."""
